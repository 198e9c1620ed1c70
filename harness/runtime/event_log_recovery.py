"""Crash recovery of the event log: updates whose process died are closed as FAILED at the next start.

The journal beside the event log (`EventLog.read_journal`) lists updates that started and were not
closed. One killed before its first event-log commit is closed too (the table may not exist yet);
one killed after its terminal event was committed but before the journal was updated is only
removed from the journal. A state directory from before the journal existed is scanned instead.
"""

from __future__ import annotations

from typing import Any

from harness.runtime.event_log import EventLog
from harness.runtime.tables import delta_table_exists

TERMINAL_UPDATE_STATES = ("COMPLETED", "FAILED", "CANCELED")


def close_crashed_updates(events: EventLog) -> list[str]:
    """Record every update that never reached a terminal state as FAILED; returns their ids."""
    exists = delta_table_exists(events.path)
    journal = events.read_journal()
    closed: list[str] = []
    if journal is not None:
        open_updates = list(journal.get("open_updates", []))
        finished = _terminal_updates(events, open_updates) if exists and open_updates else set()
        for update_id in open_updates:
            if update_id not in finished:
                _close_crashed(events, update_id)
                closed.append(update_id)
            events.close_update(update_id)
        return closed
    if not exists:
        return closed
    rows = (
        events.spark.read.format("delta")
        .load(events.path)
        .where("event_type IN ('create_update', 'update_progress')")
        .selectExpr(
            "origin.update_id AS update_id",
            "get_json_object(details, '$.update_progress.state') AS state",
        )
        .collect()
    )
    started: list[str] = []
    finished_ids: set[str] = set()
    for row in rows:
        if row["state"] is None:
            started.append(row["update_id"])
        elif row["state"] in TERMINAL_UPDATE_STATES:
            finished_ids.add(row["update_id"])
    for update_id in started:
        if update_id not in finished_ids:
            _close_crashed(events, update_id)
            closed.append(update_id)
    return closed


def _terminal_updates(events: EventLog, update_ids: list[str]) -> set[str]:
    """Those of ``update_ids`` whose terminal state is already in the event log."""
    from pyspark.sql import functions as F

    rows: list[Any] = (
        events.spark.read.format("delta")
        .load(events.path)
        .where(F.col("event_type") == "update_progress")
        .where(F.col("origin.update_id").isin(update_ids))
        .where(F.get_json_object("details", "$.update_progress.state").isin(*TERMINAL_UPDATE_STATES))
        .select("origin.update_id")
        .distinct()
        .collect()
    )
    return {row[0] for row in rows}


def _close_crashed(events: EventLog, update_id: str) -> None:
    events.emit(
        "update_progress",
        f"Update {update_id[:6]} is FAILED: it did not finish (the process running it stopped).",
        {"state": "FAILED"},
        level="ERROR",
        origin={"update_id": update_id},
        error={
            "fatal": True,
            "exceptions": [
                {
                    "class_name": "UpdateTerminatedUnexpectedly",
                    "message": "the process running the update stopped before the update finished",
                }
            ],
        },
    )


__all__ = ["TERMINAL_UPDATE_STATES", "close_crashed_updates"]
