"""The pipeline page (`harness ui`) and graph export (`harness graph`): read-only views of a pipeline's
event log (graph, updates, flows, events), read without Spark, served on 127.0.0.1 only."""

from harness.ui.data import PipelineData, StateData
from harness.ui.server import Page, PageServer

__all__ = ["Page", "PageServer", "PipelineData", "StateData"]
