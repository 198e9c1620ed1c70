"""Render the Grafana dashboards' panels as static PNG charts (matplotlib, Agg) for the run report.

Runs each panel's own SQL (the same text Grafana runs) and draws it by panel type: time series as
lines (one per ``metric`` value when the query is in long form), bar charts, stats as big numbers,
tables as a matplotlib table of the first rows. A panel whose query returns no rows is drawn as
"no data", so the report always shows every panel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.monitoring.dashboard_specs import DEFAULT_SCHEMA, SCHEMA_VARIABLE, substitute_schema
from pipeline.utils.errors import DashboardError

__all__ = ["Panel", "load_panels", "render_dashboards", "run_panel"]

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "dashboards"


class Panel:
    """One panel of a dashboard file: title, type, format, SQL and declared columns."""

    def __init__(self, dashboard: str, spec: dict[str, Any], schema: str = DEFAULT_SCHEMA) -> None:
        self.dashboard = dashboard
        #: the value of the dashboard's ``monitoring_schema`` variable (what Grafana substitutes)
        self.schema = schema
        self.title: str = spec["title"]
        self.kind: str = spec["type"]
        target = spec["targets"][0]
        self.format: str = target.get("format", "table")
        self.sql: str = target["rawSql"]
        self.columns: list[str] = list(target.get("columns", []))

    def sql_for(self, schema: str | None = None) -> str:
        """The SQL Grafana runs: ``${monitoring_schema}`` replaced by ``schema`` (default: the file's value)."""
        return substitute_schema(self.sql, schema or self.schema)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")


def load_panels(path: Path) -> list[Panel]:
    try:
        model = json.loads(path.read_text())
        variables = {v["name"]: v for v in model.get("templating", {}).get("list", [])}
        schema = variables.get(SCHEMA_VARIABLE, {}).get("query") or DEFAULT_SCHEMA
        return [Panel(path.stem, spec, schema) for spec in model["panels"]]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise DashboardError(str(path), "-", f"not a dashboard file: {exc}") from exc


def run_panel(conn: Any, panel: Panel, schema: str | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Execute the panel's SQL over ``schema`` (default: the dashboard's variable); returns (column
    names, rows). SQL errors name the panel."""
    try:
        sql = panel.sql_for(schema)
    except ValueError as exc:
        raise DashboardError(panel.dashboard, panel.title, str(exc)) from exc
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        conn.rollback()
    except Exception as exc:
        conn.rollback()
        raise DashboardError(panel.dashboard, panel.title, f"{type(exc).__name__}: {exc}".strip()) from exc
    return names, rows


def _draw(ax: Any, panel: Panel, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
        return
    if panel.kind == "timeseries":
        if len(names) == 3 and names[1] == "metric":
            series: dict[str, tuple[list[Any], list[Any]]] = {}
            for t, metric, value in rows:
                xs, ys = series.setdefault(str(metric), ([], []))
                xs.append(t)
                ys.append(None if value is None else float(value))
            for metric, (xs, ys) in sorted(series.items()):
                ax.plot(xs, ys, marker="o", label=metric)
        else:
            for i, name in enumerate(names[1:], start=1):
                ax.plot(
                    [r[0] for r in rows],
                    [None if r[i] is None else float(r[i]) for r in rows],
                    marker="o",
                    label=name,
                )
        ax.legend(fontsize=7, loc="best")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    elif panel.kind == "barchart":
        labels = [str(r[0]) for r in rows]
        width = 0.8 / max(1, len(names) - 1)
        for i, name in enumerate(names[1:]):
            ax.bar(
                [x + i * width for x in range(len(rows))],
                [float(r[i + 1] or 0) for r in rows],
                width,
                label=name,
            )
        ax.set_xticks(
            [x + width * (len(names) - 2) / 2 for x in range(len(rows))], labels, rotation=30, fontsize=7
        )
        ax.legend(fontsize=7)
    elif panel.kind == "stat":
        text = "   ".join(
            f"{n}: {v:,.2f}" if isinstance(v, float) else f"{n}: {v}"
            for n, v in zip(names, rows[0], strict=True)
        )
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13)
        ax.set_axis_off()
    else:
        shown = [
            [("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))[:40] for v in r]
            for r in rows[:15]
        ]
        table = ax.table(cellText=shown, colLabels=list(names), loc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        ax.set_axis_off()


def render_dashboards(
    conn: Any, out_dir: Path, dashboard_dir: Path = DASHBOARD_DIR, schema: str | None = None
) -> list[tuple[str, Path]]:
    """One PNG per panel of every dashboard in ``dashboard_dir`` over ``schema`` (default: each
    dashboard's variable); returns (title, path) in panel order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(dashboard_dir.glob("*.json")):
        for panel in load_panels(path):
            names, rows = run_panel(conn, panel, schema)
            fig, ax = plt.subplots(figsize=(8, 4))
            try:
                _draw(ax, panel, names, rows)
                ax.set_title(f"{panel.title}")
                fig.tight_layout()
                target = out_dir / f"{panel.dashboard}__{panel.slug}.png"
                fig.savefig(target, dpi=90)
            finally:
                plt.close(fig)
            written.append((f"{path.stem}: {panel.title}", target))
    return written
