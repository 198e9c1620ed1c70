"""Every error the harness raises on purpose.

One root (`HarnessError`) and flat subclasses. Each carries the offending name as a field so
tests and callers can assert on data instead of wording; each message quotes the bad value and
says what to do. The CLI catches `HarnessError` once, prints ``Error: <message>`` and exits
non-zero (``--debug`` shows the traceback).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)


# --- environment: Java, Spark, Delta jars -------------------------------------------------------


class JavaNotFoundError(HarnessError):
    """Raised when no `java` executable is found on JAVA_HOME or PATH."""

    def __init__(self, required: int, searched: Sequence[str]) -> None:
        super().__init__(
            f"Java not found (searched: {', '.join(searched) or 'nothing'}). Spark needs Java {required} or "
            f"newer: install a JDK {required}+ (e.g. `apt-get install openjdk-{required}-jre-headless`) "
            "and put it on PATH or set JAVA_HOME.",
            required=required,
            searched=list(searched),
        )


class JavaVersionError(HarnessError):
    """Raised when the Java found is older than the Spark release needs."""

    def __init__(self, found: str, required: int, java: str) -> None:
        super().__init__(
            f"Java {found} found at {java}, but Spark needs Java {required} or newer. Install a JDK "
            f"{required}+ and point JAVA_HOME at it.",
            found=found,
            required=required,
            java=java,
        )


class DeltaJarsUnavailableError(HarnessError):
    """Raised when the Delta Lake jars cannot be resolved from Maven nor found in the local cache."""

    def __init__(self, coordinate: str, cache_dir: str, detail: str = "") -> None:
        super().__init__(
            f"Could not resolve the Delta Lake jars {coordinate} (Ivy cache: {cache_dir}). "
            "Check that Maven Central is reachable, or pre-seed the cache for air-gapped use: run "
            "`harness warmup` once on a connected machine and copy the cache directory, or fetch the jars "
            f"with `mvn dependency:copy -Dartifact={coordinate}` and pass them with HARNESS_SPARK_JARS."
            + (f" Cause: {detail}" if detail else ""),
            coordinate=coordinate,
            cache_dir=cache_dir,
            detail=detail,
        )


class SparkConfigurationError(HarnessError):
    """Raised when a Spark master / remote URL or Spark option given to the harness is invalid."""

    def __init__(self, option: str, value: str, reason: str) -> None:
        super().__init__(f"Invalid Spark setting {option}={value!r}: {reason}", option=option, value=value)


# --- settings and configuration ------------------------------------------------------------------


class SettingsError(HarnessError):
    """Raised when a pipeline settings file is missing, unreadable or invalid."""

    def __init__(self, path: str, key: str | None, reason: str) -> None:
        where = f"{path}" + (f" (key {key!r})" if key else "")
        super().__init__(f"Invalid pipeline settings {where}: {reason}", path=path, key=key, reason=reason)


class VolumePathError(HarnessError):
    """Raised when a /Volumes path is malformed or escapes its volume."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"Invalid volume path {path!r}: {reason}. Expected /Volumes/<catalog>/<schema>/<volume>/...",
            path=path,
        )


class IdentifierError(HarnessError):
    """Raised when a catalog, schema or table name taken from configuration is not a safe identifier."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(
            f"Invalid {kind} name {value!r}: use letters, digits and underscores only (it is quoted into SQL).",
            kind=kind,
            value=value,
        )


# --- loading pipeline source ---------------------------------------------------------------------


class PipelineSourceError(HarnessError):
    """Raised when a pipeline library (file, notebook, glob) cannot be found or fails to import."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Cannot load pipeline source {path}: {reason}", path=path, reason=reason)


class DefinitionError(HarnessError):
    """Raised when a decorator or dataset function is used in a way Databricks rejects."""

    def __init__(self, name: str | None, location: str, reason: str) -> None:
        subject = f"{name!r} " if name else ""
        super().__init__(f"Invalid definition {subject}at {location}: {reason}", name=name, location=location)


class OutsidePipelineError(HarnessError):
    """Raised when a `dlt` decorator is called while no pipeline is being loaded."""

    def __init__(self, api: str) -> None:
        super().__init__(
            f"dlt.{api} was called outside a pipeline. Dataset definitions only register while the harness "
            "loads a pipeline (harness run / LocalPipeline); call your transformation functions directly "
            "in unit tests.",
            api=api,
        )


# --- graph validation ----------------------------------------------------------------------------


class DuplicateDatasetError(HarnessError):
    """Raised when two definitions produce a dataset (or flow) with the same name."""

    def __init__(self, name: str, kind: str, first: str, second: str) -> None:
        super().__init__(
            f"{kind.capitalize()} {name!r} is defined twice: at {first} and at {second}. Names must be unique "
            "within a pipeline (use @dlt.append_flow to add more flows to one streaming table).",
            name=name,
            kind=kind,
            first=first,
            second=second,
        )


class UnknownDatasetError(HarnessError):
    """Raised when a flow reads a name that is neither a pipeline dataset nor an existing table."""

    def __init__(self, name: str, referenced_by: str, suggestions: Sequence[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"Flow {referenced_by!r} reads {name!r}, which is not defined in this pipeline and is not an "
            f"existing table.{hint}",
            name=name,
            referenced_by=referenced_by,
            suggestions=list(suggestions),
        )


class CircularDependencyError(HarnessError):
    """Raised when datasets depend on each other in a cycle."""

    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__(
            f"Circular dependency between datasets: {' -> '.join(cycle)}. Break the cycle; a pipeline must be "
            "a directed acyclic graph.",
            cycle=list(cycle),
        )


class InvalidQueryResultError(HarnessError):
    """Raised when a dataset function does not return a Spark DataFrame."""

    def __init__(self, name: str, returned: str, location: str) -> None:
        super().__init__(
            f"Dataset function {name!r} ({location}) returned {returned}, not a Spark DataFrame. A dataset "
            "function must return the DataFrame that defines the dataset.",
            name=name,
            returned=returned,
            location=location,
        )


class InvalidFlowQueryTypeError(HarnessError):
    """Raised when a flow returns a batch query where a stream is required, or vice versa."""

    def __init__(self, flow: str, target: str, expected: str, got: str, location: str) -> None:
        super().__init__(
            f"Flow {flow!r} into {target!r} ({location}) must return a {expected} DataFrame but returned a "
            f"{got} one.",
            flow=flow,
            target=target,
            expected=expected,
            got=got,
            location=location,
        )


class ForbiddenActionError(HarnessError):
    """Raised when a dataset function calls an action Databricks forbids during planning."""

    def __init__(self, action: str, dataset: str, location: str) -> None:
        super().__init__(
            f"{action}() called inside dataset function {dataset!r} at {location}. Dataset functions are "
            "evaluated during planning and must only build a DataFrame: remove the action (Databricks rejects "
            "collect, count, toPandas, save, saveAsTable, start and toTable there).",
            action=action,
            dataset=dataset,
            location=location,
        )


class TableNotResettableError(HarnessError):
    """Raised when a full refresh explicitly selects a table with pipelines.reset.allowed=false."""

    def __init__(self, table: str) -> None:
        super().__init__(
            f"Table {table!r} has pipelines.reset.allowed=false and cannot be fully refreshed. Remove it from "
            "the full-refresh selection (a full refresh of all tables skips it).",
            table=table,
        )


class RefreshSelectionError(HarnessError):
    """Raised when a refresh selection names unknown tables or combines conflicting options."""

    def __init__(self, reason: str, names: Sequence[str] = ()) -> None:
        super().__init__(f"Invalid refresh selection: {reason}", reason=reason, names=list(names))


# --- execution -------------------------------------------------------------------------------------


class ExpectationViolationError(HarnessError):
    """Raised when a row fails an expect_or_fail expectation (Databricks error class EXPECTATION_VIOLATION)."""

    def __init__(self, flow: str, expectation: str, record: str | None) -> None:
        super().__init__(
            f"[EXPECTATION_VIOLATION.VERBOSITY_ALL] Flow {flow!r} failed to meet the expectation. "
            f"Violated expectations: {expectation!r}. Input record: {record}",
            flow=flow,
            expectation=expectation,
            record=record,
        )


class FlowExecutionError(HarnessError):
    """Raised when a flow fails while running; the update is marked FAILED."""

    def __init__(self, flow: str, reason: str) -> None:
        super().__init__(f"Flow {flow!r} failed: {reason}", flow=flow, reason=reason)


class UpdateFailedError(HarnessError):
    """Raised by callers that want an exception when an update ends FAILED."""

    def __init__(self, update_id: str, failed_flows: Sequence[str], reason: str) -> None:
        super().__init__(
            f"Update {update_id} FAILED: {reason}",
            update_id=update_id,
            failed_flows=list(failed_flows),
            reason=reason,
        )


class UnsupportedOptionError(HarnessError):
    """Raised when a source or sink option cannot be emulated locally and ignoring it would be wrong."""

    def __init__(self, option: str, value: str, reason: str) -> None:
        super().__init__(f"Option {option}={value!r} is not supported locally: {reason}", option=option)


class NewColumnsDetectedError(HarnessError):
    """Raised when Auto Loader (addNewColumns / failOnNewColumns) meets columns missing from its schema."""

    def __init__(self, source: str, columns: Sequence[str], mode: str) -> None:
        action = (
            "The merged schema has been recorded; the next update (or the automatic retry of `harness run`) "
            "picks it up."
            if mode == "addNewColumns"
            else "Update the schema (schema hints or a full refresh) or remove the offending files."
        )
        super().__init__(
            f"[UNKNOWN_FIELD_EXCEPTION.NEW_COLUMNS_DETECTED] Auto Loader source {source} found new columns: "
            f"{', '.join(columns)} (schemaEvolutionMode={mode}). {action}",
            source=source,
            columns=list(columns),
            mode=mode,
        )


class StreamingShapeError(HarnessError):
    """Raised when a streaming flow's query runs in neither append nor complete output mode."""

    def __init__(self, flow: str, reason: str) -> None:
        super().__init__(
            f"Streaming flow {flow!r} cannot run in append or complete output mode: {reason}. "
            "Add a watermark and group by event time (append), or make it a materialized view.",
            flow=flow,
            reason=reason,
        )


class CdcDefinitionError(HarnessError):
    """Raised when an AUTO CDC / apply_changes flow is configured in a way Databricks rejects."""

    def __init__(self, flow: str, reason: str) -> None:
        super().__init__(f"AUTO CDC flow {flow!r}: {reason}", flow=flow, reason=reason)


# --- services: PostgreSQL, export --------------------------------------------------------------------


class PostgresUnavailableError(HarnessError):
    """Raised when no PostgreSQL could be provided or reached (never includes the password)."""

    def __init__(self, host: str, database: str, reason: str) -> None:
        super().__init__(
            f"PostgreSQL at {host}, database {database!r} is not available: {reason}",
            host=host,
            database=database,
            reason=reason,
        )


class ExportError(HarnessError):
    """Raised when exporting metrics to PostgreSQL fails after its retries."""

    def __init__(self, host: str, database: str, reason: str) -> None:
        super().__init__(
            f"Metrics export to {host}/{database} failed: {reason}",
            host=host,
            database=database,
            reason=reason,
        )


# --- PostgreSQL provider chain (harness/postgres) ------------------------------------------------


class PostgresConfigError(HarnessError):
    """Raised when HARNESS_PG_DSN, HARNESS_PG_PROVIDER or another PostgreSQL setting is invalid."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        # `value` must already be redacted by the caller: it is quoted and kept as a field.
        super().__init__(
            f"Invalid PostgreSQL setting {variable}={value!r}: {reason}",
            variable=variable,
            value=value,
            reason=reason,
        )


# --- simulator (simulator/) ----------------------------------------------------------------------


class SimulatorConfigError(HarnessError):
    """Raised when a simulator option (CLI flag or SimulatorConfig field) is invalid."""

    def __init__(self, option: str, value: str, reason: str) -> None:
        super().__init__(f"Invalid simulator option {option}={value!r}: {reason}", option=option, value=value)


class SimulatorOutputError(HarnessError):
    """Raised when the simulator would overwrite or extend landing data that does not match its options."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Cannot write simulator output at {path}: {reason}", path=path, reason=reason)


# --- Auto Loader emulation (harness/autoloader) ------------------------------------------------


class InvalidOptionValueError(HarnessError):
    """Raised when an Auto Loader (cloudFiles) option has a value of the wrong kind."""

    def __init__(self, option: str, value: str, expected: str) -> None:
        super().__init__(
            f"Invalid value for option {option}: {value!r}. Expected {expected}.",
            option=option,
            value=value,
            expected=expected,
        )


class SchemaInferenceError(HarnessError):
    """Raised when Auto Loader has no schema to use and cannot infer one from the source files."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        super().__init__(
            f"Auto Loader source {source} cannot infer a schema from {path}: {reason}. Provide a schema "
            "(.schema(...) or cloudFiles.schemaHints) or add files before the first update.",
            source=source,
            path=path,
            reason=reason,
        )


class SchemaLocationError(HarnessError):
    """Raised when a stored Auto Loader schema (`<schemaLocation>/_schemas/N`) cannot be read or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"Auto Loader schema location file {path} is unusable: {reason}. Fix or delete the file "
            "(deleting the schema location re-infers the schema; do it together with a full refresh).",
            path=path,
            reason=reason,
        )


# --- one update at a time per pipeline (harness/runtime/pipeline_lock.py) ---------------------------


class PipelineBusyError(HarnessError):
    """Raised when another process is already updating the same pipeline state."""

    def __init__(
        self, pipeline: str, state: str, *, update_id: str, started_at: str, pid: str, command: str
    ) -> None:
        super().__init__(
            f"pipeline {pipeline!r} (state {state}) is already being updated by `harness {command}`: "
            f"update {update_id}, started {started_at}, PID {pid}. Wait for it to finish, pass --wait to "
            "queue behind it, or stop that process; `harness sql` can read the tables meanwhile.",
            pipeline=pipeline,
            state=state,
            update_id=update_id,
            started_at=started_at,
            pid=pid,
            command=command,
        )


class StateDiskFullError(HarnessError):
    """Raised when the disk holding the state directory is full during an update."""

    def __init__(self, state: str, free_bytes: int, detail: str) -> None:
        super().__init__(
            f"the disk holding the state directory {state} is full ({free_bytes} bytes free): {detail}. "
            "The update stopped; Delta commits and checkpoints are atomic, so nothing written is "
            "half-done. Free some space and run again: the next update picks up where this one stopped.",
            state=state,
            free_bytes=free_bytes,
            detail=detail,
        )


# --- harness watch (harness/watch.py) --------------------------------------------------------------


class WatchError(HarnessError):
    """Raised when `harness watch` cannot watch a landing folder (bad path or options)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"cannot watch {path}: {reason}. Pass --landing /Volumes/<catalog>/<schema>/<volume>/orders "
            "(the folder holding landing/ and manifests/, see docs/data-contract.md).",
            path=path,
            reason=reason,
        )


# --- dbutils in pipeline code ---------------------------------------------------------------------


class DbutilsUnsupportedError(HarnessError):
    """Raised when pipeline code calls a `dbutils` member that has no local meaning."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is not available in the local harness (only dbutils.fs, dbutils.secrets and "
            "dbutils.widgets are). Databricks pipelines do not support it either for most members; move "
            "the call out of the pipeline source or guard it.",
            name=name,
        )


class DbfsPathError(HarnessError, OSError):
    """Raised when a `dbutils.fs` call gets a path it cannot use (missing, a folder, already there)."""

    def __init__(self, path: str, call: str, reason: str, missing: bool = False) -> None:
        super().__init__(f"{call}({path!r}): {reason}", path=path, call=call, reason=reason, missing=missing)


class SecretNotFoundError(HarnessError):
    """Raised when `dbutils.secrets.get` finds the secret neither in the environment nor the secrets file."""

    def __init__(self, scope: str, key: str, env_name: str, file: str | None) -> None:
        where = f" or in {file} as {{{scope!r}: {{{key!r}: ...}}}}" if file else ""
        super().__init__(
            f"Secret {key!r} of scope {scope!r} not found: set the environment variable {env_name}{where} "
            "(or point HARNESS_SECRETS_FILE at a JSON file of that shape).",
            scope=scope,
            key=key,
            env_name=env_name,
            file=file,
        )


class WidgetNotDefinedError(HarnessError):
    """Raised when `dbutils.widgets.get` asks for a name the pipeline configuration does not define."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        super().__init__(
            f"Widget {name!r} is not defined: add it to the pipeline's configuration (available: "
            f"{', '.join(available) or 'none'}).",
            name=name,
            available=list(available),
        )


# --- SQL typed by users (harness sql, notebooks) ------------------------------------------------------


class QuerySyntaxError(HarnessError):
    """Raised when a query typed by a user uses a Databricks spelling (`event_log(...)`, `col:path`) the wrong way."""

    def __init__(self, query: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} (at position {position} of the query)", query=query, position=position)


class SqlQueryError(HarnessError):
    """Raised when Spark rejects a query: its error class, first message line and position, no trace."""

    def __init__(self, query: str, message: str, error_class: str | None, position: int | None) -> None:
        where = ""
        if position is not None and "line " not in message and "pos " not in message:
            fragment = query[position : position + 30].splitlines()[0] if query[position:] else ""
            where = f" (at position {position}: {fragment!r})"
        super().__init__(
            f"{message}{where}",
            query=query,
            error_class=error_class,
            position=position,
            spark_message=message,
        )


class EventLogNotFoundError(HarnessError):
    """Raised when `event_log(...)` names a pipeline (or a table) that is not the one the query runs on."""

    def __init__(self, requested: str, pipeline_id: str, pipeline_name: str) -> None:
        super().__init__(
            f"event_log({requested!r}): this query runs on pipeline {pipeline_name!r} (id {pipeline_id!r}); "
            "use that id or name, one of its tables in TABLE(...), or pass --settings of the other pipeline.",
            requested=requested,
            pipeline_id=pipeline_id,
            pipeline_name=pipeline_name,
        )


# --- Databricks Asset Bundles (harness/settings/bundle.py) --------------------------------------


class BundleError(HarnessError):
    """Raised when a bundle (databricks.yml and its includes) cannot be read or resolved for a target."""

    def __init__(self, path: str, key: str | None, reason: str) -> None:
        where = path + (f" (key {key!r})" if key else "")
        super().__init__(f"Invalid bundle {where}: {reason}", path=path, key=key, reason=reason)


class UnknownBundleTargetError(HarnessError):
    """Raised when ``--target`` names no target of the bundle; lists the ones that exist."""

    def __init__(self, path: str, target: str, available: Sequence[str]) -> None:
        super().__init__(
            f"bundle {path} has no target {target!r}; its targets: {', '.join(available) or '(none)'}",
            path=path,
            target=target,
            available=tuple(available),
        )


class UnknownBundlePipelineError(HarnessError):
    """Raised when ``--pipeline`` names no pipeline of the bundle (or several exist and none is named)."""

    def __init__(self, path: str, target: str, pipeline: str | None, available: Sequence[str]) -> None:
        what = f"no pipeline {pipeline!r}" if pipeline else "several pipelines; choose one with --pipeline"
        super().__init__(
            f"bundle {path} (target {target!r}) has {what}; its pipelines: {', '.join(available) or '(none)'}",
            path=path,
            target=target,
            pipeline=pipeline,
            available=tuple(available),
        )


class EngineRunningError(HarnessError):
    """Raised when `harness dev` starts while another warm engine already serves the same state directory."""

    def __init__(self, socket_path: str) -> None:
        super().__init__(
            f"a warm engine already listens on {socket_path} for this state directory. Stop it (Ctrl-C in its "
            "terminal) or pass another --state.",
            socket_path=socket_path,
        )


# --- the pipeline page and graph export (harness/ui/) ------------------------------------------------


class UnsupportedDeltaTableError(HarnessError):
    """Raised when the page's JVM-free Delta reader meets a table feature it does not implement."""

    def __init__(self, path: str, feature: str) -> None:
        super().__init__(
            f"cannot read the Delta table {path} without Spark: it uses {feature}, which the page's reader "
            "does not implement. Query it with `harness sql` instead.",
            path=path,
            feature=feature,
        )


class GraphvizNotFoundError(HarnessError):
    """Raised when Graphviz's `dot` (the graph layout engine) is not on PATH."""

    def __init__(self, searched: str) -> None:
        super().__init__(
            f"Graphviz `dot` not found on PATH ({searched}). It lays out the pipeline graph: install it "
            "(`apt-get install graphviz`, `brew install graphviz`) or use `harness graph --format mermaid`.",
            searched=searched,
        )


class UnknownPipelineError(HarnessError):
    """Raised when the state directory holds no event log for the pipeline asked for (or several, none named)."""

    def __init__(self, state: str, pipeline: str | None, known: Sequence[str]) -> None:
        what = f"no event log for pipeline {pipeline!r}" if pipeline else "several pipelines"
        super().__init__(
            f"{what} under {state}/pipelines (found: {', '.join(known) or 'none'}). Run an update first, or "
            "name one with --pipeline NAME (or --settings).",
            state=state,
            pipeline=pipeline,
            known=list(known),
        )


class PortInUseError(HarnessError):
    """Raised when `harness ui` cannot listen on the port asked for."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(
            f"cannot serve the pipeline page on 127.0.0.1:{port}: {reason}. Pass another --port (0 picks a free one).",
            port=port,
            reason=reason,
        )


class OutsideStateDirError(HarnessError):
    """Raised when a path asked of the page resolves outside the state directory (e.g. `../`)."""

    def __init__(self, path: str, state: str) -> None:
        super().__init__(f"refused: {path!r} is outside the state directory {state}.", path=path, state=state)


# --- SQL pipeline sources (harness.sql) ----------------------------------------------------------


class SqlSyntaxError(HarnessError):
    """Raised when a statement of a pipeline `.sql` file cannot be parsed (names file, line, statement)."""

    def __init__(self, path: str, line: int, statement: str, reason: str) -> None:
        shown = " ".join(statement.split())
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        super().__init__(
            f"SQL syntax error in {path}:{line}: {reason}. Statement: {shown}",
            path=path,
            line=line,
            statement=statement,
            reason=reason,
        )


class SqlConfigurationError(HarnessError):
    """Raised when a `${key}` in a pipeline `.sql` file names a key the pipeline configuration lacks."""

    def __init__(self, key: str, path: str, line: int, available: Sequence[str]) -> None:
        super().__init__(
            f"${{{key}}} in {path}:{line} names a key the pipeline configuration does not have; add "
            f"{key!r} to the settings' configuration (keys there: {', '.join(available) or 'none'})",
            key=key,
            path=path,
            line=line,
        )


class SqlUnsupportedError(HarnessError):
    """Raised for a SQL statement, clause or function that has no local meaning (refused by name)."""

    def __init__(self, feature: str, path: str, line: int, reason: str) -> None:
        super().__init__(
            f"{feature} in {path}:{line} is not supported locally: {reason}",
            feature=feature,
            path=path,
            line=line,
            reason=reason,
        )


__all__ = [name for name in dir() if name.endswith("Error")]
