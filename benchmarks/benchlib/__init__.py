"""Shared parts of the benchmark suite: sizes, machine facts, memory sampling, workloads, reports.

Kept out of `harness/` on purpose: nothing here is needed to run a pipeline, only to measure one.
"""
