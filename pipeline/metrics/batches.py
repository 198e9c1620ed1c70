"""The unit of export: a batch (the metric rows of consecutive updates) and the SQL that upserts it.

A batch is written in one transaction with its watermark advance (`pipeline.metrics.postgres_export`).
Rows are upserted on their natural keys (``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE row IS
DISTINCT FROM EXCLUDED``), so a replay (a crash after commit, a re-drive) changes nothing, and an older
replay never overwrites newer numbers. Pure: the SQL is built and unit-tested as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.metrics.identifiers import quote_ident
from pipeline.metrics.pipeline_metrics import NATURAL_KEYS, TABLE_COLUMNS

__all__ = ["LINEAGE_PG_COLUMNS", "WRITE_ORDER", "Batch", "dedupe", "make_batches", "upsert_sql"]

#: Insert order inside a batch (foreign keys point at pipeline_updates).
WRITE_ORDER = ("pipeline_updates", "flow_metrics", "quality_metrics", "lineage_edges", "sla_status")
LINEAGE_PG_COLUMNS = (
    "pipeline_id",
    "flow_name",
    "source_dataset",
    "target_dataset",
    "flow_type",
    "first_seen_update_id",
    "first_seen_at",
    "first_seen_seq",
    "last_seen_update_id",
    "last_seen_at",
    "last_seen_seq",
)


def _ident(name: str) -> str:
    return quote_ident(name, "export.schema")


@dataclass(frozen=True)
class Batch:
    """The metric rows of consecutive updates, written in one transaction."""

    pipeline_id: str
    update_ids: tuple[str, ...]
    first_seq: int
    last_seq: int
    rows: Mapping[str, Sequence[Mapping[str, Any]]]

    @property
    def batch_id(self) -> str:
        """Deterministic (the same updates always make the same id): a re-failing batch keeps one dead letter."""
        return f"{self.first_seq:012d}-{self.last_seq:012d}"

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline_id": self.pipeline_id,
            "batch_id": self.batch_id,
            "update_ids": list(self.update_ids),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "rows": {t: [dict(r) for r in rs] for t, rs in self.rows.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Batch:
        return cls(
            data["pipeline_id"],
            tuple(data["update_ids"]),
            int(data["first_seq"]),
            int(data["last_seq"]),
            {t: list(rs) for t, rs in data["rows"].items()},
        )


def make_batches(
    pipeline_id: str, rows: Mapping[str, Sequence[Mapping[str, Any]]], batch_updates: int
) -> list[Batch]:
    """Group staged rows by update, ``batch_updates`` updates per batch, in update_seq order."""
    updates = sorted(rows.get("pipeline_updates", ()), key=lambda r: int(r["update_seq"]))
    batches = []
    for start in range(0, len(updates), max(1, batch_updates)):
        chunk = updates[start : start + max(1, batch_updates)]
        ids = tuple(u["update_id"] for u in chunk)
        wanted = set(ids)
        batches.append(
            Batch(
                pipeline_id,
                ids,
                int(chunk[0]["update_seq"]),
                int(chunk[-1]["update_seq"]),
                {t: [r for r in rows.get(t, ()) if r["update_id"] in wanted] for t in WRITE_ORDER},
            )
        )
    return batches


def dedupe(table: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per natural key (ON CONFLICT cannot touch a row twice in one statement); the row with the
    highest update_seq wins, and lineage rows merge first/last seen."""
    if table == "lineage_edges":
        return list(_lineage_rows(rows).values())
    key = NATURAL_KEYS[table]
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or int(row["update_seq"]) >= int(best[k]["update_seq"]):
            best[k] = dict(row)
    return list(best.values())


def _lineage_rows(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    edges: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: int(r["update_seq"])):
        k = tuple(row[c] for c in NATURAL_KEYS["lineage_edges"])
        edge = edges.setdefault(
            k,
            {
                **{c: row[c] for c in NATURAL_KEYS["lineage_edges"]},
                "first_seen_update_id": row["update_id"],
                "first_seen_at": row["seen_at"],
                "first_seen_seq": int(row["update_seq"]),
            },
        )
        edge.update(
            flow_type=row["flow_type"],
            last_seen_update_id=row["update_id"],
            last_seen_at=row["seen_at"],
            last_seen_seq=int(row["update_seq"]),
        )
    return edges


def upsert_sql(schema: str, table: str) -> tuple[str, tuple[str, ...]]:
    """(INSERT ... VALUES %s ON CONFLICT ... statement, its column order) for one metric table."""
    target = f"{_ident(schema)}.{_ident(table)}"
    if table == "lineage_edges":
        columns = LINEAGE_PG_COLUMNS
        key = NATURAL_KEYS[table]
        first = "EXCLUDED.first_seen_seq < t.first_seen_seq"
        last = "EXCLUDED.last_seen_seq > t.last_seen_seq"
        sets = [
            f"first_seen_update_id = CASE WHEN {first} THEN EXCLUDED.first_seen_update_id ELSE t.first_seen_update_id END",
            f"first_seen_at = CASE WHEN {first} THEN EXCLUDED.first_seen_at ELSE t.first_seen_at END",
            "first_seen_seq = LEAST(t.first_seen_seq, EXCLUDED.first_seen_seq)",
            f"last_seen_update_id = CASE WHEN {last} THEN EXCLUDED.last_seen_update_id ELSE t.last_seen_update_id END",
            f"last_seen_at = CASE WHEN {last} THEN EXCLUDED.last_seen_at ELSE t.last_seen_at END",
            f"flow_type = CASE WHEN {last} THEN EXCLUDED.flow_type ELSE t.flow_type END",
            "last_seen_seq = GREATEST(t.last_seen_seq, EXCLUDED.last_seen_seq)",
        ]
        where = f"{first} OR {last}"
    else:
        columns = tuple(c for c in TABLE_COLUMNS[table] if c != "quality_rate")
        key = NATURAL_KEYS[table]
        payload = [c for c in columns if c not in key]
        sets = [f"{c} = EXCLUDED.{c}" for c in payload] + ["exported_at = now()"]
        mine = ", ".join(f"t.{c}" for c in payload)
        theirs = ", ".join(f"EXCLUDED.{c}" for c in payload)
        # a replay of identical values is a no-op; an older replay never overwrites newer numbers
        where = f"t.update_seq <= EXCLUDED.update_seq AND ({mine}) IS DISTINCT FROM ({theirs})"
    sql = (
        f"INSERT INTO {target} AS t ({', '.join(columns)}) VALUES %s "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)} WHERE {where} "
        "RETURNING (xmax = 0) AS inserted"
    )
    return sql, columns
