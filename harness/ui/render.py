"""The pipeline graph as Graphviz `dot` source, laid out by `dot` into SVG or PNG, or as Mermaid text.

Layout is Graphviz's job (Debian package ``graphviz``): left to right, one rank per dependency
level, so a 50-dataset pipeline stays a readable band of columns rather than a hairball. The page
and `harness graph` draw the same `GraphView`, so the exported file is what the page shows.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from typing import Any

from harness.errors import GraphvizNotFoundError, HarnessError
from harness.ui.model import GraphNode, GraphView

#: fill, border, text colour per status (colour-blind safe enough: status is also written out).
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "COMPLETED": ("#e3f4e5", "#2e7d32"),
    "FAILED": ("#fde2e1", "#c62828"),
    "RUNNING": ("#e1effd", "#1565c0"),
    "STARTING": ("#e1effd", "#1565c0"),
    "QUEUED": ("#eef3f8", "#5c7fa3"),
    "SKIPPED": ("#f1f1f1", "#8a8a8a"),
    "STOPPED": ("#f1f1f1", "#8a8a8a"),
    "EXCLUDED": ("#ffffff", "#b0b0b0"),
    "IDLE": ("#e3f4e5", "#2e7d32"),
    "NOT_RUN": ("#ffffff", "#9e9e9e"),
}

KIND_LABELS = {
    "STREAMING_TABLE": "streaming table",
    "MATERIALIZED_VIEW": "materialized view",
    "VIEW": "view",
    "SINK": "sink",
    "EXTERNAL": "external",
}

KIND_SHAPES = {"VIEW": "box", "SINK": "cds", "EXTERNAL": "box"}


def node_id(name: str) -> str:
    """A stable SVG element id for a dataset (the page finds nodes by it)."""
    return "n_" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _plural(value: int, noun: str) -> str:
    return f"{value:,} {noun}" + ("" if value == 1 else "s")


def status_text(node: GraphNode) -> str:
    """A view that no flow evaluates on its own has no status of its own: its readers run it."""
    if node.kind == "VIEW" and node.status == "NOT_RUN":
        return "read by its consumers"
    return node.status.replace("_", " ").lower()


def node_stats(node: GraphNode) -> str:
    """The figures under a node's name (newest run): rows written, dropped, expectation pass rate."""
    parts = []
    if node.rows is not None:
        parts.append(_plural(node.rows, "row"))
    if node.dropped:
        parts.append(f"{node.dropped:,} dropped")
    if node.pass_rate is not None:
        parts.append(f"{node.pass_rate * 100:.1f}% pass")
    if node.status == "FAILED" and node.error:
        parts.append(node.error.split(":", 1)[0][:40])
    return " · ".join(parts)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: GraphView) -> str:
    lines = [
        "digraph pipeline {",
        '  graph [rankdir=LR, nodesep=0.2, ranksep=0.5, bgcolor="transparent", '
        'fontname="Helvetica", pad=0.1];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.1,0.05"];',
        '  edge [color="#7a8793", arrowsize=0.7];',
    ]
    for node in graph.nodes.values():
        fill, border = STATUS_COLOURS.get(node.status, STATUS_COLOURS["NOT_RUN"])
        style = "rounded,filled,dashed" if node.kind in ("VIEW", "EXTERNAL") else "rounded,filled"
        status = status_text(node)
        stats = node_stats(node)
        stats_row = (
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="8.5">{html.escape(stats)}</FONT></TD></TR>'
            if stats
            else ""
        )
        label = (
            f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD ALIGN="LEFT"><B>{html.escape(node.name)}</B></TD></TR>'
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="8.5" COLOR="#555555">'
            f"{html.escape(KIND_LABELS.get(node.kind, node.kind.lower()))} · {html.escape(status)}</FONT></TD></TR>"
            f"{stats_row}</TABLE>>"
        )
        tooltip = node.error or f"{node.name}: {status}"
        lines.append(
            f"  {_quote(node.name)} [id={_quote(node_id(node.name))}, label={label}, "
            f"shape={KIND_SHAPES.get(node.kind, 'box')}, style={_quote(style)}, fillcolor={_quote(fill)}, "
            f"color={_quote(border)}, penwidth={2.2 if node.status == 'FAILED' else 1.2}, "
            f"tooltip={_quote(tooltip[:500])}];"
        )
    for source, target in graph.edges:
        lines.append(f"  {_quote(source)} -> {_quote(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_executable() -> str:
    found = shutil.which("dot")
    if found is None:
        raise GraphvizNotFoundError(searched="PATH")
    return found


def layout(graph: GraphView, fmt: str) -> bytes:
    """The graph laid out by Graphviz as ``svg`` or ``png`` bytes."""
    if fmt not in ("svg", "png"):
        raise ValueError(fmt)
    command = [dot_executable(), f"-T{fmt}"] + (["-Gdpi=110"] if fmt == "png" else [])
    done = subprocess.run(command, input=to_dot(graph).encode(), capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise HarnessError(
            f"Graphviz dot failed ({done.returncode}): {done.stderr.decode(errors='replace')[:500]}"
        )
    return done.stdout


def to_mermaid(graph: GraphView) -> str:
    """A Mermaid flowchart of the same graph (renders on GitHub and in most Markdown viewers)."""
    lines = ["flowchart LR"]
    ids = {name: f"d{i}" for i, name in enumerate(graph.nodes)}
    for name, node in graph.nodes.items():
        stats = node_stats(node)
        text = f"{name}<br/>{KIND_LABELS.get(node.kind, node.kind.lower())} · {status_text(node)}"
        text += f"<br/>{stats}" if stats else ""
        text = text.replace('"', "#quot;")
        open_, close = (
            ("[/", "/]") if node.kind == "VIEW" else ("[[", "]]") if node.kind == "SINK" else ("[", "]")
        )
        lines.append(f'  {ids[name]}{open_}"{text}"{close}')
    for source, target in graph.edges:
        lines.append(f"  {ids[source]} --> {ids[target]}")
    for status, (fill, border) in STATUS_COLOURS.items():
        members = [ids[n] for n, node in graph.nodes.items() if node.status == status]
        if members:
            lines.append(f"  classDef {status.lower()} fill:{fill},stroke:{border}")
            lines.append(f"  class {','.join(members)} {status.lower()}")
    return "\n".join(lines) + "\n"


def render(graph: GraphView, fmt: str) -> bytes:
    """`harness graph --format` output: svg, png or mermaid."""
    if fmt == "mermaid":
        return to_mermaid(graph).encode()
    return layout(graph, fmt)


def svg_fragment(svg: bytes) -> str:
    """The SVG without its XML prologue and DOCTYPE, ready to inline into HTML."""
    text = svg.decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


__all__: list[Any] = ["layout", "node_id", "render", "svg_fragment", "to_dot", "to_mermaid"]
