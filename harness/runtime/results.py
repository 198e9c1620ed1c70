"""What an update returns: its status and, per flow, the counts Databricks reports in flow_progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TERMINAL_FLOW_STATES = ("COMPLETED", "FAILED", "SKIPPED", "STOPPED", "IDLE", "EXCLUDED")


@dataclass
class FlowResult:
    name: str
    target: str
    status: str = "QUEUED"
    num_output_rows: int = 0
    num_upserted_rows: int | None = None
    num_deleted_rows: int | None = None
    dropped_records: int = 0
    expectations: list[dict[str, Any]] = field(default_factory=list)
    num_files: int | None = None
    num_bytes: int | None = None
    num_batches: int = 0
    #: records Auto Loader could not parse / rescued into the rescued-data column (harness extension)
    num_corrupt_records: int | None = None
    num_rescued_records: int | None = None
    #: AUTO CDC flows report upserts and deletes; Databricks does not capture num_output_rows for them
    auto_cdc: bool = False
    duration_s: float = 0.0
    error: str | None = None
    error_class: str | None = None
    #: the (translated) error of a FAILED flow: the event log's error details, the update's failure
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {} if self.auto_cdc else {"num_output_rows": self.num_output_rows}
        if self.num_upserted_rows is not None:
            metrics["num_upserted_rows"] = self.num_upserted_rows
        if self.num_deleted_rows is not None:
            metrics["num_deleted_rows"] = self.num_deleted_rows
        if self.num_files is not None:
            metrics["num_files_read"] = self.num_files
            metrics["num_bytes_read"] = self.num_bytes or 0
        if self.num_corrupt_records is not None:
            metrics["num_corrupt_records"] = self.num_corrupt_records
            metrics["num_rescued_records"] = self.num_rescued_records or 0
        return metrics

    def data_quality(self) -> dict[str, Any] | None:
        if not self.expectations and not self.dropped_records:
            return None
        return {"dropped_records": self.dropped_records, "expectations": self.expectations}


@dataclass
class UpdateResult:
    update_id: str
    status: str  # COMPLETED | FAILED
    flows: dict[str, FlowResult]
    duration_s: float
    error: str | None = None
    error_class: str | None = None
    #: reads the pipeline's event log (set by `LocalPipeline.run`; None for a bare `UpdateRunner` result)
    event_log_reader: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED"

    @property
    def failed_flows(self) -> list[str]:
        return [name for name, flow in self.flows.items() if flow.status == "FAILED"]

    def rows_written(self) -> dict[str, int]:
        """Rows written per flow in this update."""
        return {name: flow.num_output_rows for name, flow in self.flows.items()}

    def event_log(self) -> Any:
        """The pipeline's event log (all updates) as a DataFrame; filter on origin.update_id for this one."""
        return self.event_log_reader() if self.event_log_reader is not None else None
