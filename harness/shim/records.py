"""What a pipeline declares, as frozen records.

The `dlt` / `dp` decorators only build these records and hand them to the active registry
(`harness.shim.registry`); the graph builder and the runner read them and never reach into
decorator internals. Every record carries the `file:line` where it was declared, for errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

QueryFunction = Callable[[], Any]  # returns a pyspark DataFrame


class DatasetKind(StrEnum):
    """What a declared dataset is. TABLE is decided (ST or MV) from the query, as @dlt.table does."""

    TABLE = "table"  # @dlt.table / @dp.table: streaming table or materialized view by query
    STREAMING_TABLE = "streaming_table"  # create_streaming_table / resolved TABLE
    MATERIALIZED_VIEW = "materialized_view"  # @dp.materialized_view / resolved TABLE
    VIEW = "view"  # @dlt.view / @dp.temporary_view: pipeline-scoped, never published
    SINK = "sink"  # create_sink / foreach_batch_sink


class ExpectationAction(StrEnum):
    WARN = "warn"
    DROP = "drop"
    FAIL = "fail"


@dataclass(frozen=True)
class SourceLocation:
    path: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class Expectation:
    """One data-quality rule: a SQL boolean over a record, and what to do when it is false or NULL."""

    name: str
    constraint: str
    action: ExpectationAction


@dataclass(frozen=True)
class DatasetDef:
    """A dataset (table, view or sink) declared by a pipeline."""

    name: str
    kind: DatasetKind
    location: SourceLocation
    api: str  # e.g. "dlt.table", "dp.materialized_view", "dlt.create_streaming_table"
    comment: str | None = None
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    table_properties: Mapping[str, str] = field(default_factory=dict)
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    cluster_by_auto: bool = False
    schema: Any = None  # StructType or DDL string
    path: str | None = None
    private: bool = False  # dlt temporary=True / dp private=True: not published
    row_filter: str | None = None
    format: str | None = None
    expectations: tuple[Expectation, ...] = ()
    # sinks
    sink_format: str | None = None
    sink_options: Mapping[str, str] = field(default_factory=dict)
    foreach_batch: Callable[[Any, int], None] | None = None


@dataclass(frozen=True)
class FlowDef:
    """A query flow: the default flow of a table/view, or an @append_flow into a streaming table or sink."""

    name: str
    target: str
    func: QueryFunction
    location: SourceLocation
    is_default: bool  # the dataset's own defining query (vs. an append flow)
    once: bool = False
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    expectations: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class CdcFlowDef:
    """apply_changes / create_auto_cdc_flow: upsert a change feed into a streaming table (SCD 1 or 2)."""

    name: str
    target: str
    source: str
    keys: tuple[str, ...]
    sequence_by: Any  # column name, Column or struct Column
    location: SourceLocation
    where: Any = None
    ignore_null_updates: bool = False
    apply_as_deletes: Any = None  # SQL string or Column
    apply_as_truncates: Any = None
    column_list: tuple[str, ...] | None = None
    except_column_list: tuple[str, ...] | None = None
    stored_as_scd_type: int = 1
    track_history_column_list: tuple[str, ...] | None = None
    track_history_except_column_list: tuple[str, ...] | None = None
    once: bool = False
    ignore_null_updates_column_list: tuple[str, ...] | None = None
    ignore_null_updates_except_column_list: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SnapshotCdcFlowDef:
    """apply_changes_from_snapshot / create_auto_cdc_from_snapshot_flow."""

    name: str
    target: str
    keys: tuple[str, ...]
    location: SourceLocation
    source: str | None = None  # a table or view name, snapshotted on each update
    snapshot_and_version: Callable[[Any], Any] | None = None  # fn(latest_version) -> (df, version) | None
    stored_as_scd_type: int = 1
    track_history_column_list: tuple[str, ...] | None = None
    track_history_except_column_list: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EventHookDef:
    func: Callable[[dict[str, Any]], None]
    max_allowable_consecutive_failures: int | None
    location: SourceLocation


AnyFlow = FlowDef | CdcFlowDef | SnapshotCdcFlowDef
