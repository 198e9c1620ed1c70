"""The engine's small public records and the reserved column names it writes or uses internally."""

from __future__ import annotations

from dataclasses import dataclass

#: SCD type 2 validity columns, named and typed as Databricks does (type of the sequence_by expression).
START_AT = "__START_AT"
END_AT = "__END_AT"

# Internal column names: never written to a target, only to the engine's own state tables.
SEQ = "__cdc_seq"
OP = "__cdc_op"
WHERE_OK = "__cdc_where_ok"
FRESH = "__cdc_fresh"
DELETED = "__cdc_deleted"
ACTION = "__cdc_action"
INTERNAL_PREFIX = "__cdc_"

# Values of the OP column: an upsert (INSERT/UPDATE), a delete (apply_as_deletes) or a truncate.
UPSERT, DELETE, TRUNCATE = "U", "D", "T"


@dataclass(frozen=True)
class CdcTarget:
    """Where a CDC flow writes, and where the engine may keep its own state for that target.

    `state_path` should be per target (not per flow) so several flows into one target share the
    sequencing state, as Databricks' single backing table does; batch ledgers inside it are per flow.
    """

    table_name: str  # qualified Spark table name of a Delta table, e.g. "db.customers"
    path: str  # the table's storage location
    state_path: str  # a local directory the engine owns (sequences, tombstones, event log, ledgers)


@dataclass(frozen=True)
class CdcBatchMetrics:
    """Counts for one micro-batch or snapshot, for the flow_progress event (see docs/cdc.md)."""

    num_input_rows: int
    num_upserted_rows: int
    num_deleted_rows: int
    num_output_rows: int

    @classmethod
    def empty(cls, num_input_rows: int = 0) -> CdcBatchMetrics:
        return cls(num_input_rows, 0, 0, 0)

    def flow_progress_metrics(self, auto_cdc: bool = True) -> dict[str, int]:
        """The `details.flow_progress.metrics` entries to report for this batch.

        Databricks documents that AUTO CDC flows report num_upserted_rows and num_deleted_rows and
        that "the num_output_rows metric, which is output for non-CDC flows, is not captured for
        apply changes queries"; for snapshot flows (auto_cdc=False) it documents neither, so all
        three counts are reported (docs/cdc.md, "Metrics").
        """
        counts = {"num_upserted_rows": self.num_upserted_rows, "num_deleted_rows": self.num_deleted_rows}
        return counts if auto_cdc else {"num_output_rows": self.num_output_rows, **counts}

    def as_dict(self) -> dict[str, int]:
        return {
            "num_input_rows": self.num_input_rows,
            "num_upserted_rows": self.num_upserted_rows,
            "num_deleted_rows": self.num_deleted_rows,
            "num_output_rows": self.num_output_rows,
        }


@dataclass(frozen=True)
class MergeCounts:
    """The row counts Delta's MERGE returns (its result DataFrame), summed over a batch's merges."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def __add__(self, other: MergeCounts) -> MergeCounts:
        return MergeCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.deleted + other.deleted
        )

    def metrics(self, num_input_rows: int) -> CdcBatchMetrics:
        upserted = self.inserted + self.updated
        return CdcBatchMetrics(num_input_rows, upserted, self.deleted, upserted)
