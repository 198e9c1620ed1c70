"""The pipeline graph for other reports: the e2e report embeds the same picture the page draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.state import StateLayout
from harness.ui.data import StateData
from harness.ui.render import layout


def graph_chart(state: StateLayout, pipeline_name: str, folder: Path) -> tuple[str, Path]:
    """(title, SVG file) for a report's chart list; (reason it is missing, empty Path) when it cannot be drawn.

    A report is written even when its run failed or Graphviz is absent, so this never raises a
    harness error: the reason takes the picture's place.
    """
    try:
        data = StateData(state)
        name = data.default_pipeline(pipeline_name)
        path = folder / "pipeline_graph.svg"
        path.write_bytes(layout(data.pipeline(name).graph(), "svg"))
    except HarnessError as exc:
        return f"Pipeline graph unavailable: {exc}", Path()
    return "Pipeline graph (status and rows of the last update)", path


def pipeline_graph_chart(pipeline: Any, folder: Path) -> tuple[str, Path]:
    """`graph_chart` for a `LocalPipeline`."""
    return graph_chart(pipeline.layout, pipeline.settings.name, folder)
