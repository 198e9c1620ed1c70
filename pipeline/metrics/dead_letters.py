"""Dead letters: batches that still failed after their retries, kept as files and (when the database
answers) as rows of ``dead_letters``.

A file under ``<dead_letter_dir>/<pipeline>/<batch_id>.json`` is the record (the database may be what
failed); it holds the batch, its error and the attempts so far. A re-drive replays the file and, in
the same transaction as its rows, marks the row re-driven (`mark_redriven`); the file then moves to
``redriven/``. The folder also keeps a copy of the last committed watermark, read only when the
database cannot be.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.metrics.batches import Batch
from pipeline.metrics.failures import is_transient
from pipeline.metrics.identifiers import quote_ident

__all__ = ["DeadLetterQueue", "mark_redriven", "record_in_postgres"]

log = logging.getLogger(__name__)


class DeadLetterQueue:
    """The dead-letter folder of an exporter; ``clock`` stamps ``failed_at``."""

    def __init__(self, root: str | os.PathLike[str], clock: Callable[[], datetime]) -> None:
        self.root = Path(root)
        self.clock = clock

    def folder(self, pipeline_id: str) -> Path:
        return self.root / pipeline_id

    def save_watermark(self, pipeline_id: str, seq: int) -> None:
        """A local copy of the last committed watermark, used only when the database cannot be read."""
        path = self.folder(pipeline_id) / "watermark.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_seq": seq}))
        os.replace(tmp, path)

    def watermark(self, pipeline_id: str) -> int:
        try:
            return int(json.loads((self.folder(pipeline_id) / "watermark.json").read_text())["last_seq"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    def write(self, batch: Batch, exc: BaseException, attempts: int, error_message: str) -> dict[str, Any]:
        """Write the batch and its error to its file (atomically; attempts add up over re-failures);
        returns the record written (``file_path`` says where)."""
        directory = self.folder(batch.pipeline_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{batch.batch_id}.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        record = {
            **batch.to_json(),
            "attempts": int(previous.get("attempts") or 0) + attempts,
            "error_class": type(exc).__name__,
            "error_message": error_message[:4000],
            "transient": is_transient(exc),
            "failed_at": self.clock().isoformat(),
            "file_path": str(path),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
        os.replace(tmp, path)
        return record

    def pending(self, pipeline_id: str | None = None) -> list[Path]:
        """Files not re-driven yet (all pipelines when ``pipeline_id`` is None), oldest first."""
        roots = [self.folder(pipeline_id)] if pipeline_id else [p for p in self.root.glob("*") if p.is_dir()]
        return sorted((f for r in roots for f in r.glob("*-*.json")), key=lambda p: (p.parent.name, p.name))

    @staticmethod
    def done(path: Path) -> None:
        """Move a re-driven file to ``redriven/`` next to it."""
        target = path.parent / "redriven"
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)


def record_in_postgres(conn: Any, schema: str, record: Mapping[str, Any]) -> None:
    """Insert (or refresh) the ``dead_letters`` row of a dead-letter record, in its own transaction."""
    from psycopg2.extras import Json

    with conn, conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {quote_ident(schema, 'export.schema')}.dead_letters (pipeline_id, batch_id, first_seq, "
            "last_seq, update_ids, attempts, error_class, error_message, file_path, payload, failed_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (pipeline_id, batch_id) DO UPDATE "
            "SET attempts = EXCLUDED.attempts, error_class = EXCLUDED.error_class, "
            "error_message = EXCLUDED.error_message, failed_at = EXCLUDED.failed_at, redriven_at = NULL",
            (
                record["pipeline_id"],
                record["batch_id"],
                record["first_seq"],
                record["last_seq"],
                record["update_ids"],
                record["attempts"],
                record["error_class"],
                record["error_message"],
                record["file_path"],
                Json({"rows": record["rows"]}),
                record["failed_at"],
            ),
        )


def mark_redriven(cur: Any, schema: str, batch: Batch, record: Mapping[str, Any]) -> None:
    """Inside the transaction that writes a re-driven batch: its ``dead_letters`` row, re-driven now."""
    from psycopg2.extras import Json

    cur.execute(
        f"INSERT INTO {quote_ident(schema, 'export.schema')}.dead_letters AS d (pipeline_id, batch_id, first_seq, "
        "last_seq, update_ids, attempts, error_class, error_message, file_path, payload, failed_at, redriven_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
        "ON CONFLICT (pipeline_id, batch_id) DO UPDATE SET redriven_at = now()",
        (
            batch.pipeline_id,
            batch.batch_id,
            batch.first_seq,
            batch.last_seq,
            list(batch.update_ids),
            int(record.get("attempts") or 1),
            record.get("error_class") or "unknown",
            record.get("error_message") or "",
            record.get("file_path"),
            Json(batch.to_json()),
            record.get("failed_at"),
        ),
    )
