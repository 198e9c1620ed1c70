"""Execute one flow of a triggered update.

* batch flows (materialized views): evaluate, apply expectations, replace the table in one commit;
* streaming flows (streaming tables, sinks): Structured Streaming with ``availableNow`` and one
  checkpoint per flow; each micro-batch goes through ``foreachBatch`` where expectations are applied
  and counted with an `Observation`, then appended with Delta's idempotent-write options
  (``txnAppId`` = the checkpoint's id, ``txnVersion`` = the batch id), so a batch replayed after a
  crash is not written twice;
* ``once`` flows: a one-time batch append, re-run after a full refresh;
* AUTO CDC flows: a stream of the source into `harness.cdc.apply_changes_batch`;
* snapshot AUTO CDC flows: `harness.cdc.run_snapshot_flow`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import (
    FlowExecutionError,
    HarnessError,
    InvalidFlowQueryTypeError,
    InvalidQueryResultError,
    UnsupportedOptionError,
)
from harness.graph.builder import is_dataframe
from harness.graph.model import PipelineGraph, ResolvedDataset, ResolvedFlow
from harness.runtime.context import EvaluationFrame, evaluating, resolving_with
from harness.runtime.delta_txn import committed_since, latest_version, local_table_path
from harness.runtime.expectations import (
    AppliedExpectations,
    ExpectationResult,
    parse_violation,
    result_from_row,
)
from harness.runtime.resolver import ExecutionResolver
from harness.runtime.results import FlowResult
from harness.runtime.tables import TableStore
from harness.shim.records import DatasetKind

#: Errors raised inside a harness foreachBatch handler: the harness reports them itself (flow
#: failure, event log), so Py4J's own ERROR log of the same exception with its traceback is noise.
_HANDLED_IN_BATCH: deque[BaseException] = deque(maxlen=32)


class _DropHandledBatchErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not any(error is handled for handled in _HANDLED_IN_BATCH)


logging.getLogger("py4j.clientserver").addFilter(_DropHandledBatchErrors())


def checkpoint_dir(root: Path, flow: ResolvedFlow) -> Path:
    return root / flow.target / flow.name


def cdc_state_dir(root: Path, target: str) -> Path:
    """AUTO CDC state of one target, shared by every CDC flow into it (reset with the target)."""
    return root / target / "__harness_cdc_state"


def harness_dir(checkpoint: Path) -> Path:
    """Harness-owned state inside a flow's checkpoint (removed with it on full refresh)."""
    return checkpoint / "_harness"


def txn_app_id(checkpoint: Path) -> str:
    """A stable id per checkpoint incarnation: a full refresh (new checkpoint) gets a new id."""
    marker = harness_dir(checkpoint) / "txn_app_id"
    if marker.is_file() and marker.read_text().strip():
        return marker.read_text().strip()
    marker.parent.mkdir(parents=True, exist_ok=True)
    value = str(uuid.uuid4())
    # atomic: a process killed mid-write must not leave an empty id (every replay would then differ)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(value)
    os.replace(tmp, marker)
    return value


def translate_failure(exc: BaseException, flow: str) -> HarnessError:
    """A harness error for whatever a flow raised (expectation, Auto Loader schema change, other)."""
    if isinstance(exc, HarnessError):
        return exc
    violation = parse_violation(exc)
    if violation is not None:
        return violation
    try:
        from harness.autoloader import translate_stream_failure
    except ImportError:  # pragma: no cover - Auto Loader package not installed
        translate_stream_failure = None  # type: ignore[assignment]
    if translate_stream_failure is not None:
        translated = translate_stream_failure(exc)
        if translated is not None:
            return translated
    return FlowExecutionError(flow, f"{type(exc).__name__}: {_headline(str(exc))[:2000]}")


def _headline(text: str) -> str:
    """The first line of a Spark error, plus the Python error at the bottom of a worker traceback.

    A failing UDF surfaces as a Spark exception whose first line only says the Python worker failed;
    the cause (``ValueError: bad sku 'X'``) is the last unindented line of the embedded traceback.
    """
    lines = text.strip().splitlines()
    if not lines:
        return "(no message)"
    first = lines[0]
    if "Traceback (most recent call last)" not in text:
        return first
    tail = text[text.rindex("Traceback (most recent call last)") :].splitlines()[1:]
    causes: list[str] = []
    for line in tail:
        if not line.strip() or line.startswith("JVM stacktrace"):
            break  # the Python traceback ends where the JVM's begins
        if not line[0].isspace():
            causes.append(line)
    return f"{first} Caused by: {causes[-1].strip()}" if causes and causes[-1] not in first else first


@dataclass
class FlowExecutor:
    spark: Any
    graph: PipelineGraph
    resolver: ExecutionResolver
    store: TableStore
    checkpoints_root: Path
    null_passes: bool = False

    def __post_init__(self) -> None:
        #: expectation counts of views, by view flow, gathered from the flows that read them
        self.view_results: dict[str, ExpectationResult] = {}

    # --- entry point --------------------------------------------------------------------------
    def run(self, flow: ResolvedFlow) -> FlowResult:
        dataset = self.graph.datasets[flow.target]
        result = FlowResult(flow.name, dataset.name, status="RUNNING")
        started = time.monotonic()
        try:
            with self.resolver.executing(flow.name), flow_spark_conf(self.spark, flow):
                runner = {
                    "batch": self._run_batch,
                    "stream": self._run_stream,
                    "once": self._run_once,
                    "cdc": self._run_cdc,
                    "snapshot": self._run_snapshot,
                }[flow.mode]
                runner(flow, dataset, result)
            if result.status == "RUNNING":
                result.status = "COMPLETED"
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = translate_failure(exc, flow.name)
            result.status = "FAILED"
            result.error = str(error)
            result.error_class = type(error).__name__
            result.exception = error
        result.duration_s = time.monotonic() - started
        return result

    # --- helpers ------------------------------------------------------------------------------
    def _evaluate(self, flow: ResolvedFlow, dataset: ResolvedDataset) -> Any:
        frame = EvaluationFrame(dataset.name, flow.name, flow.location)
        with resolving_with(self.resolver), evaluating(frame):
            df = flow.definition.func()
        if not is_dataframe(df):
            raise InvalidQueryResultError(flow.name, type(df).__name__, flow.location)
        return df

    def _rules(self, flow: ResolvedFlow, dataset: ResolvedDataset) -> tuple[Any, ...]:
        """The flow's own rules plus those declared on its target with create_streaming_table(expect_all...)."""
        return tuple(getattr(flow.definition, "expectations", ())) + tuple(dataset.definition.expectations)

    def _record_expectations(self, result: FlowResult, counts: ExpectationResult) -> None:
        result.num_output_rows += counts.input_rows - counts.dropped
        if counts.rules:
            dq = counts.data_quality()
            result.dropped_records = dq["dropped_records"]
            result.expectations = dq["expectations"]

    def _collect_views(self, flow: ResolvedFlow, progresses: list[Any]) -> None:
        """Attach counts of expectations on views read by this flow (reported by the update)."""
        records = self.resolver.views_read.pop(flow.name, [])
        totals: dict[str, ExpectationResult] = {}
        for record in records:
            if record.observation is not None:
                counts = result_from_row(record.view, record.rules, record.observation.get)
            else:
                counts = ExpectationResult.empty(record.view, record.rules)
                for progress in progresses:
                    observed = _progress_field(progress, "observedMetrics") or {}
                    if record.streaming_name in observed:
                        counts = counts.plus(
                            result_from_row(record.view, record.rules, observed[record.streaming_name])
                        )
            totals[record.view_flow] = (
                totals[record.view_flow].plus(counts) if record.view_flow in totals else counts
            )
        for view_flow, counts in totals.items():
            previous = self.view_results.get(view_flow)
            self.view_results[view_flow] = previous.plus(counts) if previous else counts

    def _stream(self, flow: ResolvedFlow, df: Any, batch_fn: Any) -> list[Any]:
        """Run a stream to the end of the input available now; return its progress reports."""
        checkpoint = checkpoint_dir(self.checkpoints_root, flow)
        checkpoint.mkdir(parents=True, exist_ok=True)
        raised: list[BaseException] = []

        def guarded_batch(batch_df: Any, batch_id: int) -> None:
            try:
                batch_fn(batch_df, batch_id)
            except BaseException as exc:
                raised.append(exc)  # Py4J would hand it back as a traceback inside a Java exception
                _HANDLED_IN_BATCH.append(exc)
                raise

        writer = df.writeStream.foreachBatch(guarded_batch).option("checkpointLocation", str(checkpoint))
        query = writer.trigger(availableNow=True).start()
        try:
            query.awaitTermination()
        except Exception as exc:
            if raised:  # the original error, not its Py4J rendering
                raise raised[0] from exc
            raise
        finally:
            progresses = list(query.recentProgress)
            if query.isActive:
                query.stop()
        return progresses

    def _file_state(self, flow: ResolvedFlow) -> tuple[int, int] | None:
        try:
            from harness.autoloader import ingested_files
        except ImportError:  # pragma: no cover
            return None
        checkpoint = checkpoint_dir(self.checkpoints_root, flow)
        sources = checkpoint / "sources"
        if not sources.is_dir():
            return (0, 0)
        files = 0
        size = 0
        for source in sorted(p for p in sources.iterdir() if p.name.isdigit()):
            try:
                entries = ingested_files(str(checkpoint), int(source.name))
            except Exception:
                continue
            files += len(entries)
            size += sum(int(getattr(e, "size", 0) or 0) for e in entries)
        return files, size

    # --- flow kinds -------------------------------------------------------------------------
    def _run_batch(self, flow: ResolvedFlow, dataset: ResolvedDataset, result: FlowResult) -> None:
        df = self._evaluate(flow, dataset)
        if df.isStreaming:
            raise InvalidFlowQueryTypeError(flow.name, dataset.name, "batch", "streaming", flow.location)
        applied = AppliedExpectations(
            df, self._rules(flow, dataset), dataset.name, flow.name, self.null_passes
        )
        assert dataset.location is not None
        self.store.replace(dataset.location, applied.df, dataset.definition)
        self._record_expectations(result, applied.result())
        self._collect_views(flow, [])
        result.num_batches = 1

    def _run_stream(self, flow: ResolvedFlow, dataset: ResolvedDataset, result: FlowResult) -> None:
        df = self._evaluate(flow, dataset)
        if not df.isStreaming:
            raise InvalidFlowQueryTypeError(flow.name, dataset.name, "streaming", "batch", flow.location)
        rules = self._rules(flow, dataset)
        checkpoint = checkpoint_dir(self.checkpoints_root, flow)
        app_id = txn_app_id(checkpoint)
        write = self._sink_writer(dataset, app_id)
        lock = threading.Lock()
        totals = {"counts": ExpectationResult.empty(dataset.name, rules), "batches": 0}

        def batch_fn(batch_df: Any, batch_id: int) -> None:
            applied = AppliedExpectations(batch_df, rules, dataset.name, flow.name, self.null_passes)
            if write(applied.df, batch_id) is False:
                # a replay Delta skipped (the crashed update wrote it): no query ran, nothing to count
                return
            counts = applied.result()
            with lock:
                totals["counts"] = totals["counts"].plus(counts)
                totals["batches"] += 1

        before = self._file_state(flow)
        progresses = self._stream(flow, df, batch_fn)
        after = self._file_state(flow)
        self._record_expectations(result, totals["counts"])
        result.num_batches = int(totals["batches"])
        if before is not None and after is not None and after[0]:
            result.num_files, result.num_bytes = after[0] - before[0], after[1] - before[1]
        _record_cloud_files_counts(result, progresses)
        self._collect_views(flow, progresses)

    def _sink_writer(self, dataset: ResolvedDataset, app_id: str) -> Any:
        definition = dataset.definition
        if dataset.kind is DatasetKind.STREAMING_TABLE:
            location = dataset.location
            assert location is not None
            return lambda df, batch_id: self.store.append(location, df, app_id, batch_id)
        if definition.sink_format == "foreach_batch":
            handler = definition.foreach_batch
            assert handler is not None
            return lambda df, batch_id: handler(df, batch_id)
        if definition.sink_format == "delta":
            options = dict(definition.sink_options)
            if "path" in options:
                path = self.resolver.map_path(options["path"])
                return lambda df, batch_id: _append_to_path(df, path, app_id, batch_id)
            if "tableName" in options:
                database, table = self.resolver.names.local_table(options["tableName"])
                self.store.ensure_database(database)
                return lambda df, batch_id: _append_to_table(df, f"{database}.{table}", app_id, batch_id)
            raise UnsupportedOptionError(
                "options", str(options), f"delta sink {definition.name!r} needs 'path' or 'tableName'"
            )
        raise UnsupportedOptionError(
            "format",
            str(definition.sink_format),
            f"sink {definition.name!r}: only delta and foreach_batch sinks run locally",
        )

    def _run_once(self, flow: ResolvedFlow, dataset: ResolvedDataset, result: FlowResult) -> None:
        checkpoint = checkpoint_dir(self.checkpoints_root, flow)
        marker = harness_dir(checkpoint) / "once_completed"
        if marker.is_file():
            result.status = "IDLE"
            return
        df = self._evaluate(flow, dataset)
        if df.isStreaming:
            raise InvalidFlowQueryTypeError(flow.name, dataset.name, "batch", "streaming", flow.location)
        applied = AppliedExpectations(
            df, self._rules(flow, dataset), dataset.name, flow.name, self.null_passes
        )
        if self._sink_writer(dataset, txn_app_id(checkpoint))(applied.df, 0) is not False:
            self._record_expectations(result, applied.result())
        self._collect_views(flow, [])
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        result.num_batches = 1

    def _cdc_target(self, flow: ResolvedFlow, dataset: ResolvedDataset) -> Any:
        from harness.cdc import CdcTarget

        assert dataset.location is not None
        return CdcTarget(
            table_name=f"{dataset.location.database}.{dataset.location.table}",
            path=dataset.location.path,
            state_path=str(cdc_state_dir(self.checkpoints_root, dataset.key)),
        )

    def _run_cdc(self, flow: ResolvedFlow, dataset: ResolvedDataset, result: FlowResult) -> None:
        from harness.cdc import apply_changes_batch

        spec = flow.definition
        frame = EvaluationFrame(dataset.name, flow.name, flow.location)
        with resolving_with(self.resolver), evaluating(frame):  # the source may be a view
            source = self.resolver.read(spec.source, streaming=True)
        target = self._cdc_target(flow, dataset)
        lock = threading.Lock()
        totals = {"upserted": 0, "deleted": 0, "output": 0, "batches": 0}

        def batch_fn(batch_df: Any, batch_id: int) -> None:
            metrics = apply_changes_batch(self.spark, batch_df, target, spec, batch_id)
            with lock:
                totals["upserted"] += metrics.num_upserted_rows
                totals["deleted"] += metrics.num_deleted_rows
                totals["output"] += metrics.num_output_rows
                totals["batches"] += 1

        progresses = self._stream(flow, source, batch_fn)
        result.num_upserted_rows = totals["upserted"]
        result.num_deleted_rows = totals["deleted"]
        # Databricks: num_output_rows "is not captured for apply changes queries" (docs/cdc.md).
        result.auto_cdc = True
        result.num_output_rows = totals["output"]
        result.num_batches = totals["batches"]
        self._collect_views(flow, progresses)

    def _run_snapshot(self, flow: ResolvedFlow, dataset: ResolvedDataset, result: FlowResult) -> None:
        from harness.cdc import run_snapshot_flow

        spec = flow.definition
        target = self._cdc_target(flow, dataset)
        with resolving_with(self.resolver):
            batches = run_snapshot_flow(
                self.spark, target, spec, lambda name: self.resolver.read(name, streaming=False)
            )
        result.num_upserted_rows = sum(m.num_upserted_rows for m in batches)
        result.num_deleted_rows = sum(m.num_deleted_rows for m in batches)
        result.num_output_rows = sum(m.num_output_rows for m in batches)
        result.num_batches = len(batches)
        self.store.register(dataset.location) if dataset.location else None


@contextmanager
def flow_spark_conf(spark: Any, flow: ResolvedFlow) -> Iterator[None]:
    """Apply a flow's spark_conf for its duration (session-wide: concurrent flows see it too)."""
    conf = dict(getattr(flow.definition, "spark_conf", {}) or {})
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        if not key.startswith("pipelines."):
            spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if key.startswith("pipelines."):
                continue
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _append_to_path(df: Any, path: str, app_id: str, batch_id: int) -> bool:
    """Append to a Delta path; False when Delta skipped the write as a replay (see delta_txn)."""
    before = latest_version(path)
    df.write.format("delta").mode("append").option("txnAppId", app_id).option("txnVersion", batch_id).save(
        path
    )
    return committed_since(path, before, app_id, batch_id)


def _append_to_table(df: Any, name: str, app_id: str, batch_id: int) -> bool:
    """Append to a Delta table by name, creating it first when missing; False when skipped as a replay.

    Spark 4.1 fills an `Observation` on the written frame with an empty row when saveAsTable has to
    create the table (CTAS), and `Observation.get` then fails: so the table is created empty first
    and the rows are always appended to an existing table.
    """
    spark = df.sparkSession
    if not spark.catalog.tableExists(name):
        spark.createDataFrame([], df.schema).write.format("delta").saveAsTable(name)
    location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
    before = latest_version(local_table_path(location))
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", batch_id)
        .saveAsTable(name)
    )
    return committed_since(local_table_path(location), before, app_id, batch_id)


def _record_cloud_files_counts(result: FlowResult, progresses: list[Any]) -> None:
    """Sum the corrupt / rescued record counts every Auto Loader source of the flow observed."""
    from harness.autoloader.metrics import METRICS_PREFIX

    corrupt = rescued = 0
    seen = False
    for progress in progresses:
        for key, row in (_progress_field(progress, "observedMetrics") or {}).items():
            if not key.startswith(METRICS_PREFIX):
                continue
            values = row.asDict() if hasattr(row, "asDict") else dict(row)
            corrupt += int(values.get("num_corrupt_records") or 0)
            rescued += int(values.get("num_rescued_records") or 0)
            seen = True
    if seen:
        result.num_corrupt_records, result.num_rescued_records = corrupt, rescued


def _progress_field(progress: Any, name: str) -> Any:
    if isinstance(progress, dict):
        return progress.get(name)
    return getattr(progress, name, None)
