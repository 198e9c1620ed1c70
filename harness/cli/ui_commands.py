"""`harness ui` (the pipeline page on 127.0.0.1) and `harness graph` (the same graph as a file).

Neither starts Spark: both read the pipeline's event log with the JVM-free Delta reader in
harness/ui/, so the page can stay open while `harness run` / `dev` / `watch` updates the pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.bundle_options import add_pipeline_options, settings_from_args
from harness.dbutils.secrets import local_secret_values

DEFAULT_PORT = 8765
FORMATS = ("svg", "png", "mermaid")
EXTENSIONS = {"svg": "svg", "png": "png", "mermaid": "mmd"}


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    """`--settings FILE` or `--bundle [DIR] --target T --pipeline KEY`: which pipeline of the state to show.

    Without either, the page shows the only (or the most recently updated) pipeline of the state.
    """
    add_pipeline_options(parser, root_positional=False)


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    ui = subparsers.add_parser(
        "ui",
        parents=[common],
        help="serve the pipeline page (graph, updates, flows, event log) on 127.0.0.1",
        description=(
            "Serve a read-only page on http://127.0.0.1:PORT with the pipeline's graph, updates, per-flow "
            "history and event log, following a running update live. Reads the event log without Spark; "
            "works offline. Ctrl-C stops it."
        ),
    )
    _pipeline_options(ui)
    ui.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free)",
    )
    ui.set_defaults(func=ui_command)

    graph = subparsers.add_parser(
        "graph",
        parents=[common],
        help="write the pipeline graph (as the page draws it) to an SVG, PNG or Mermaid file",
        description="Write the pipeline's dataset graph with each node's last status and counts, laid out by Graphviz.",
    )
    _pipeline_options(graph)
    graph.add_argument("--format", choices=FORMATS, default="svg")
    graph.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="where to write it (default: <state>/reports/<pipeline>_graph.<ext>)",
    )
    graph.set_defaults(func=graph_command)


def _pipeline_name(args: argparse.Namespace) -> str | None:
    if getattr(args, "settings", None) or getattr(args, "bundle", None):
        return settings_from_args(args).name
    return None


def _state_data(args: argparse.Namespace) -> tuple[Any, str]:
    from harness.state import StateLayout
    from harness.ui.data import StateData

    layout = StateLayout.at(args.state)
    data = StateData(layout, known_secrets=local_secret_values(layout.secrets_file))
    return data, data.default_pipeline(_pipeline_name(args))


def ui_command(args: argparse.Namespace) -> int:
    from harness.ui.render import dot_executable
    from harness.ui.server import Page, serve

    data, first = _state_data(args)
    dot_executable()  # a missing Graphviz is said now, not as a blank graph later

    def ready(url: str) -> None:
        print(f"Pipeline page for {first}: {url}  (read-only, 127.0.0.1 only; Ctrl-C stops)", flush=True)

    serve(data, Page(first), args.port, ready)
    return 0


def graph_command(args: argparse.Namespace) -> int:
    from harness.ui.render import render

    data, name = _state_data(args)
    output = (
        Path(args.output)
        if args.output
        else data.layout.reports_dir / f"{name}_graph.{EXTENSIONS[args.format]}"
    )
    content = render(data.pipeline(name).graph(), args.format)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    print(output)
    return 0
