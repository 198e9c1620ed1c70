"""One pipeline's event log as plain, redacted event records, read without Spark.

Rows come from `DeltaTableReader` (the Delta table the runtime appends to, see
harness/runtime/event_log.py for its columns). Each row becomes an `Event`: the origin fields the
page filters on, ``details`` unwrapped from Databricks' ``{event_type: {...}}`` JSON, ``error``
parsed, every string scrubbed by the `Redactor`. Results are cached per table version, so a page
polling every two seconds costs one directory listing while nothing changes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ui.delta_reader import DeltaTableReader
from harness.ui.redact import Redactor


@dataclass(frozen=True)
class Event:
    seq: int
    id: str
    timestamp: datetime
    level: str
    event_type: str
    message: str
    update_id: str | None
    flow_name: str | None
    dataset_name: str | None
    details: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    def error_text(self) -> str | None:
        """The innermost-first error messages, one per line, or None."""
        if not self.error:
            return None
        parts = [
            f"{e.get('class_name', 'Error')}: {e.get('message', '')}"
            for e in self.error.get("exceptions", [])
        ]
        return "\n".join(parts) or None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "timestamp": iso(self.timestamp),
            "level": self.level,
            "event_type": self.event_type,
            "message": self.message,
            "update_id": self.update_id,
            "flow_name": self.flow_name,
            "dataset_name": self.dataset_name,
            "details": self.details,
            "error": self.error_text(),
        }


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _utc(value: Any) -> datetime:
    """Spark writes the event log's TIMESTAMP as UTC instants; pyarrow hands them back naive."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(0, UTC)


def _json(text: Any) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def to_event(row: dict[str, Any], redactor: Redactor) -> Event:
    origin = row.get("origin") or {}
    sequence = (row.get("sequence") or {}).get("data_plane_id") or {}
    event_type = row.get("event_type") or ""
    details = _json(row.get("details")) or {}
    inner = details.get(event_type, details) if isinstance(details, dict) else {}
    if event_type == "create_update" and isinstance(inner.get("config"), dict):
        config = dict(inner["config"])
        config["configuration"] = redactor.mask_configuration(dict(config.get("configuration") or {}))
        inner = {**inner, "config": config}
    return Event(
        seq=int(sequence.get("seq_no") or 0),
        id=str(row.get("id") or ""),
        timestamp=_utc(row.get("timestamp")),
        level=row.get("level") or "INFO",
        event_type=event_type,
        message=redactor.redact(row.get("message") or ""),
        update_id=origin.get("update_id"),
        flow_name=origin.get("flow_name"),
        dataset_name=origin.get("dataset_name"),
        details=redactor.redact(inner if isinstance(inner, dict) else {}),
        error=redactor.redact(_json(row.get("error"))),
    )


class EventSource:
    """The events of one pipeline's event log, in sequence order, re-read only when the table changes."""

    def __init__(self, path: Path, known_secrets: tuple[str, ...] = ()) -> None:
        self.path = path
        self.known_secrets = known_secrets
        self._reader = DeltaTableReader(path)
        self._lock = threading.Lock()
        self._version = -2
        self._events: list[Event] = []

    def load(self) -> tuple[int, list[Event]]:
        """(table version, events); version -1 when the pipeline has no event log yet."""
        with self._lock:
            version, rows = self._reader.rows()
            if version != self._version:
                redactor = Redactor(self.known_secrets)
                for row in rows:  # learn every configuration's secrets before scrubbing any text
                    if row.get("event_type") == "create_update":
                        config = ((_json(row.get("details")) or {}).get("create_update") or {}).get("config")
                        redactor.learn((config or {}).get("configuration"))
                events = [to_event(row, redactor) for row in rows]
                self._events = sorted(events, key=lambda e: (e.seq, e.timestamp))
                self._version = version
            return self._version, self._events
