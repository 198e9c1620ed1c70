"""Triggered updates on local Spark + Delta: load sources, resolve the graph, run flows, log events."""
