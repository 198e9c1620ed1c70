"""Console output of `harness run`: one line per flow state change, then a summary table."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, TextIO

from harness.runtime.results import UpdateResult

_SHOWN = ("RUNNING", "COMPLETED", "FAILED", "SKIPPED", "IDLE", "EXCLUDED")
_MARK = {"RUNNING": ">", "COMPLETED": "+", "FAILED": "x", "SKIPPED": "-", "IDLE": "=", "EXCLUDED": "."}
#: warnings this process has printed: settings warnings recur in every update's event log (as on
#: Databricks), but the terminal says each once per process, however many updates run
_SAID: set[str] = set()


def say_once(message: str, stream: TextIO | None = None, stamp: str = "") -> bool:
    """Print a warning the first time this process meets it; returns whether it was printed."""
    if message in _SAID:
        return False
    _SAID.add(message)
    prefix = f"[{stamp}] " if stamp else ""
    print(f"{prefix}WARN  {message}", file=stream or sys.stderr, flush=True)
    return True


class ProgressPrinter:
    """An event-log listener printing update phases and flow progress as they happen."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, event: dict[str, Any]) -> None:
        import json

        kind = event["event_type"]
        details = json.loads(event["details"]).get(kind, {})
        stamp = event["timestamp"].strftime("%H:%M:%S") if isinstance(event["timestamp"], datetime) else ""
        if kind == "update_progress":
            state = details.get("state", "")
            if event["level"] == "WARN":
                say_once(event["message"], self.stream, stamp)
            elif state:
                self._print(f"[{stamp}] update {event['origin']['update_id'][:8]}: {state}")
        elif kind == "flow_progress":
            status = details.get("status", "")
            if status not in _SHOWN:
                return
            flow = event["origin"].get("flow_name") or "?"
            line = f"[{stamp}] {_MARK.get(status, ' ')} {flow:<34} {status:<9}"
            metrics = details.get("metrics") or {}
            if status == "COMPLETED" and metrics:
                if "num_output_rows" in metrics:
                    line += f" {metrics['num_output_rows']:>10,} rows"
                else:  # AUTO CDC flows report upserts and deletes instead (as on Databricks)
                    line += f" {metrics.get('num_upserted_rows', 0):>10,} upserted"
                    line += f"  {metrics.get('num_deleted_rows', 0):,} deleted"
                if metrics.get("num_files_read") is not None:
                    line += f"  {metrics['num_files_read']} files"
                dropped = (details.get("data_quality") or {}).get("dropped_records")
                if dropped:
                    line += f"  {dropped:,} dropped"
                if details.get("duration_ms") is not None:
                    line += f"  {details['duration_ms'] / 1000:.1f}s"
            elif status == "FAILED":
                line += f" {event['message']}"
            self._print(line)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def summary(result: UpdateResult) -> str:
    """A table of flows with status, rows written, records dropped and duration."""
    lines = [
        f"Update {result.update_id} {result.status} in {result.duration_s:.1f}s",
        f"{'flow':<34} {'target':<30} {'status':<9} {'rows':>10} {'dropped':>8} {'seconds':>8}",
    ]
    rows = dropped = 0
    for flow in result.flows.values():
        rows += flow.num_output_rows
        dropped += flow.dropped_records
        lines.append(
            f"{flow.name:<34} {flow.target:<30} {flow.status:<9} {flow.num_output_rows:>10,} "
            f"{flow.dropped_records:>8,} {flow.duration_s:>8.1f}"
        )
    lines.append(f"{len(result.flows)} flows, {rows:,} rows written, {dropped:,} records dropped")
    if result.error:
        lines.append(f"Reason: {result.error}")
    return "\n".join(lines)
