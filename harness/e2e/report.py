"""The e2e run report: summary.json plus report.html with static charts (PNG, matplotlib Agg).

The HTML is self-contained apart from the PNGs beside it, so the folder can be attached to a CI
run or mailed as it is. Charts: time per update split by flow, rows written per flow, and the
order KPIs read back from the gold tables (`stages.kpi_frames`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.e2e.options import E2EOptions


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_update_durations(updates: list[dict[str, Any]], path: Path) -> Path:
    """Stacked bars: seconds per flow in each update (what each batch cost, and where).

    The legend (one entry per flow, up to ~20) sits below the axes, never over the bars, and the
    figure is saved with a tight bounding box so neither the title nor the legend is cut off.
    """
    plt = _plt()
    fig = update_durations_figure(updates)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def update_durations_figure(updates: list[dict[str, Any]]) -> Any:
    """The figure of `chart_update_durations` (kept apart so its layout can be checked)."""
    plt = _plt()
    flows = sorted({f for u in updates for f in u["flows"]})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bottoms = [0.0] * len(updates)
    labels = [
        f"batch {u['batch']}" + ("" if u["status"] == "COMPLETED" else f" ({u['status']})") for u in updates
    ]
    colours = plt.get_cmap("tab20")
    for index, flow in enumerate(flows):
        values = [u["flows"].get(flow, {}).get("seconds", 0.0) or 0.0 for u in updates]
        ax.bar(labels, values, bottom=bottoms, label=flow, color=colours(index % 20))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.plot(labels, [u["seconds"] for u in updates], "k.--", label="update (wall clock)")
    ax.set_ylabel("seconds (sum over flows)")
    ax.set_title("Update time by flow", loc="left", fontsize=12, pad=18)
    ax.text(
        0.0,
        1.015,
        "flows run concurrently: a bar can exceed the update's wall clock",
        transform=ax.transAxes,
        fontsize=8,
        color="#555",
        va="bottom",
    )
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    return fig


def chart_rows_per_flow(updates: list[dict[str, Any]], path: Path) -> Path:
    """Grouped bars: rows written (or upserted) per flow and update."""
    plt = _plt()
    flows = sorted({f for u in updates for f in u["flows"]})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(updates))
    for i, update in enumerate(updates):
        values = [
            (update["flows"].get(f, {}).get("rows") or update["flows"].get(f, {}).get("upserted") or 0)
            for f in flows
        ]
        ax.bar(
            [x + i * width for x in range(len(flows))], values, width=width, label=f"batch {update['batch']}"
        )
    ax.set_xticks([x + width * (len(updates) - 1) / 2 for x in range(len(flows))])
    ax.set_xticklabels(flows, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("rows")
    ax.set_title("Rows written per flow and update")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def chart_series(frame: Any, x: str, ys: list[str], title: str, path: Path) -> Path:
    """A line chart of KPI columns `ys` of a pandas frame over `x` (one axis per column)."""
    plt = _plt()
    fig, axes = plt.subplots(len(ys), 1, figsize=(9, 2.2 * len(ys)), sharex=True, squeeze=False)
    for ax, column in zip(axes[:, 0], ys, strict=True):
        ax.plot(frame[x], frame[column].astype(float), marker=".")
        ax.set_ylabel(column, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cell(value: Any) -> str:
    """A table cell: numbers right-aligned, text left-aligned, nothing shown for a missing value."""
    if value is None:
        return "<td></td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"<td class='num'>{html.escape(str(value))}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td { max-width: 60em; overflow-wrap: break-word; }
.PASSED { color: #186a1f; } .FAILED { color: #b00020; }
img { max-width: 100%; box-sizing: border-box; height: auto; border: 1px solid #eee; margin: 0.5em 0; }
"""


def summary_json(outcome: Any) -> str:
    """The run's outcome (`harness.e2e.runner.E2EOutcome`, a dataclass) as summary.json's text."""
    return json.dumps(asdict(outcome), indent=2, sort_keys=True, default=str)


def write_report(
    options: E2EOptions, outcome: Any, pipeline: Any, connect: Callable[[], Any] | None = None
) -> Path:
    """Write summary.json, the charts and report.html into options.report_dir; returns the HTML path.

    This module never imports the runner (it receives the outcome), so the runner can import it.
    """
    from harness.e2e import stages

    folder = options.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(summary_json(outcome))
    charts: list[tuple[str, Path]] = []
    if outcome.updates:
        charts.append(
            ("Update time by flow", chart_update_durations(outcome.updates, folder / "update_time.png"))
        )
        charts.append(("Rows per flow", chart_rows_per_flow(outcome.updates, folder / "rows_per_flow.png")))
    try:
        for title, frame, x, ys in stages.kpi_frames(pipeline):
            name = title.lower().replace(" ", "_") + ".png"
            charts.append((title, chart_series(frame, x, ys, title, folder / name)))
    except Exception as exc:  # a failed run may lack gold tables; the report must still be written
        charts.append((f"KPI charts unavailable: {exc}", Path()))
    if pipeline is not None:  # a report of a run that never got a pipeline has no graph to draw
        from harness.ui.export import pipeline_graph_chart

        charts.insert(0, pipeline_graph_chart(pipeline, folder))
    panels = stages.dashboard_charts(outcome, folder, connect)
    charts.extend(panels)
    parts = [
        f"<h1>e2e run <span class='{outcome.status}'>{outcome.status}</span></h1>",
        f"<p>{outcome.total_seconds}s in total, peak memory {outcome.peak_memory_mb} MB, "
        f"state: <code>{html.escape(str(options.state))}</code></p>",
        "<h2>Steps</h2>",
        _table(outcome.steps),
        "<h2>Batches</h2>",
        _table(outcome.batches),
        "<h2>Updates</h2>",
        _table(
            [
                {k: u[k] for k in ("batch", "update_id", "status", "seconds", "error")}
                | {"rows": sum((f.get("rows") or 0) for f in u["flows"].values())}
                for u in outcome.updates
            ]
        ),
        "<h2>Reconciliation</h2>",
        f"<p>{sum(outcome.checks.values())} values compared in {len(outcome.checks)} checks; "
        f"{len(outcome.mismatches)} mismatch(es).</p>",
        _table(outcome.mismatches[:200]),
        _table([{"check": k, "values compared": v} for k, v in sorted(outcome.checks.items())]),
        "<h2>Quality suites</h2>",
        _table(outcome.quality.get("suites", [])) if outcome.quality else "<p><em>not run</em></p>",
        "<h2>Metrics export</h2>",
        _table(
            [
                {"key": k, "value": v}
                for k, v in sorted(outcome.export.items())
                if not isinstance(v, dict | list)
            ]
        ),
        "<h2>Alerts</h2>",
        f"<p>{len(outcome.export.get('alerts', []))} alert(s) recorded in PostgreSQL; "
        f"{len(outcome.export.get('mails_caught', []))} e-mail(s) caught by the local mail catcher.</p>",
        _table(outcome.export.get("alerts", [])),
        "<h2>Charts</h2>",
    ]
    for title, path in charts:
        if path.name:
            source = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name
            parts.append(
                f"<h3>{html.escape(title)}</h3><img src='{html.escape(source)}' alt='{html.escape(title)}'>"
            )
        else:
            parts.append(f"<p><em>{html.escape(title)}</em></p>")
    parts.append("<h2>Environment</h2>")
    parts.append(_table([{"key": k, "value": v} for k, v in outcome.environment.items()]))
    report = folder / "report.html"
    report.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>e2e report</title><style>{_STYLE}</style>"
        f"</head><body>{''.join(parts)}</body></html>"
    )
    return report
