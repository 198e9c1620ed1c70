"""The `dlt` module as pipeline code sees it while the harness loads a pipeline.

Same names, signatures and keyword names as Databricks' classic `dlt` module (the databricks-dlt
0.3.0 interface) plus the newer `dp` names. The harness puts this module in ``sys.modules["dlt"]``
only while it loads pipeline sources and restores the previous entry afterwards, so it never
shadows another installed `dlt` package (e.g. dltHub's) outside a harness run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from harness.errors import DefinitionError, OutsidePipelineError
from harness.shim import declare
from harness.shim.records import (
    CdcFlowDef,
    DatasetDef,
    DatasetKind,
    EventHookDef,
    Expectation,
    ExpectationAction,
    FlowDef,
    SnapshotCdcFlowDef,
)
from harness.shim.registry import active_registry

__all__ = [
    "append_flow",
    "apply_changes",
    "apply_changes_from_snapshot",
    "create_auto_cdc_flow",
    "create_auto_cdc_from_snapshot_flow",
    "create_sink",
    "create_streaming_live_table",
    "create_streaming_table",
    "create_table",
    "create_target_table",
    "create_view",
    "expect",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "expect_or_drop",
    "expect_or_fail",
    "foreach_batch_sink",
    "materialized_view",
    "on_event_hook",
    "read",
    "readStream",
    "read_stream",
    "table",
    "temporary_view",
    "view",
]

Conf = dict[str, str]


# --- datasets -----------------------------------------------------------------------------------


def table(
    query_function: Callable[..., Any] | None = None,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Conf | None = None,
    table_properties: Conf | None = None,
    partition_cols: list[str] | None = None,
    path: str | None = None,
    schema: Any = None,
    temporary: bool = False,
    cluster_by: list[str] | None = None,
    row_filter: str | None = None,
    *,
    private: bool | None = None,
    cluster_by_auto: bool = False,
    format: str | None = None,
) -> Any:
    """A table: a streaming table when the query is streaming, else a materialized view (as DLT decides)."""
    options = dict(locals())
    options.pop("query_function")
    return declare.dataset_decorator("dlt.table", DatasetKind.TABLE, query_function, options)


def materialized_view(
    query_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Conf | None = None,
    table_properties: Conf | None = None,
    path: str | None = None,
    partition_cols: list[str] | None = None,
    cluster_by_auto: bool = False,
    cluster_by: list[str] | None = None,
    schema: Any = None,
    refresh_policy: str | None = None,
    row_filter: str | None = None,
    private: bool = False,
    format: str | None = None,
) -> Any:
    options = dict(locals())
    options.pop("query_function")
    return declare.dataset_decorator(
        "dlt.materialized_view", DatasetKind.MATERIALIZED_VIEW, query_function, options
    )


def view(
    query_function: Callable[..., Any] | None = None,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Conf | None = None,
) -> Any:
    """A pipeline-scoped view, never published."""
    options = {"name": name, "comment": comment, "spark_conf": spark_conf}
    return declare.dataset_decorator("dlt.view", DatasetKind.VIEW, query_function, options)


def temporary_view(
    query_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    comment: str | None = None,
    spark_conf: Conf | None = None,
) -> Any:
    options = {"name": name, "comment": comment, "spark_conf": spark_conf}
    return declare.dataset_decorator("dlt.temporary_view", DatasetKind.VIEW, query_function, options)


def create_streaming_table(
    name: str,
    comment: str | None = None,
    spark_conf: Conf | None = None,
    table_properties: Conf | None = None,
    partition_cols: Collection[str] | None = None,
    path: str | None = None,
    schema: Any = None,
    expect_all: dict[str, Any] | None = None,
    expect_all_or_drop: dict[str, Any] | None = None,
    expect_all_or_fail: dict[str, Any] | None = None,
    cluster_by: list[str] | None = None,
    row_filter: str | None = None,
    *,
    cluster_by_auto: bool = False,
    private: bool = False,
    format: str | None = None,
) -> None:
    """An empty streaming table, the target of append flows and AUTO CDC flows."""
    api = "dlt.create_streaming_table"
    registry = active_registry(api)
    location = declare.caller_location()
    if not isinstance(name, str) or not name:
        raise DefinitionError(None, str(location), f"{api}: name must be a non-empty string")
    rules = (
        declare.expectations_from(expect_all, ExpectationAction.WARN, api)
        + declare.expectations_from(expect_all_or_drop, ExpectationAction.DROP, api)
        + declare.expectations_from(expect_all_or_fail, ExpectationAction.FAIL, api)
    )
    registry.add_dataset(
        DatasetDef(
            name=name,
            kind=DatasetKind.STREAMING_TABLE,
            location=location,
            api=api,
            comment=comment,
            spark_conf=declare.check_conf(spark_conf, "spark_conf", api, location),
            table_properties=declare.check_conf(table_properties, "table_properties", api, location),
            partition_cols=tuple(partition_cols or ()),
            cluster_by=tuple(cluster_by or ()),
            cluster_by_auto=cluster_by_auto,
            schema=schema,
            path=path,
            private=private,
            row_filter=row_filter,
            format=format,
            expectations=tuple(rules),
        )
    )


def create_sink(name: str, format: str, options: dict[str, str] | None = None) -> None:
    """An external sink (delta or kafka) that append flows can target."""
    api = "dlt.create_sink"
    registry = active_registry(api)
    location = declare.caller_location()
    declare.check_str(name, "name", api, location)
    declare.check_str(format, "format", api, location)
    registry.add_dataset(
        DatasetDef(
            name=name,
            kind=DatasetKind.SINK,
            location=location,
            api=api,
            sink_format=format.lower(),
            sink_options=declare.check_conf(options, "options", api, location),
        )
    )


def foreach_batch_sink(handler: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """A sink that calls `handler(df, batch_id)` for each micro-batch of the flows that target it."""
    api = "dlt.foreach_batch_sink"

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        registry = active_registry(api)
        registry.add_dataset(
            DatasetDef(
                name=name or func.__name__,
                kind=DatasetKind.SINK,
                location=declare.location_of(func),
                api=api,
                sink_format="foreach_batch",
                foreach_batch=func,
            )
        )
        return func

    if handler is not None:
        if not callable(handler):
            raise DefinitionError(None, str(declare.caller_location()), f"@{api} must decorate a function")
        return register(handler)
    return register


# --- flows --------------------------------------------------------------------------------------


def append_flow(
    name: str | None = None,
    target: str | None = None,
    comment: str | None = None,
    spark_conf: Conf | None = None,
    once: bool = False,
) -> Callable[[Callable[..., Any]], None]:
    """An extra flow appending into a streaming table or sink (`once=True`: a one-time batch backfill)."""
    api = "dlt.append_flow"

    def register(func: Callable[..., Any]) -> Any:
        registry = active_registry(api)
        location = declare.location_of(func)
        if not target or not isinstance(target, str):
            raise DefinitionError(
                name or func.__name__, str(location), "append_flow needs target='<table or sink>'"
            )
        registry.add_flow(
            FlowDef(
                name=name or func.__name__,
                target=target,
                func=func,
                location=location,
                is_default=False,
                once=bool(once),
                spark_conf=declare.check_conf(spark_conf, "spark_conf", api, location),
                comment=comment,
                expectations=declare.attached_expectations(func, target),
            )
        )
        return func

    return register


def _scd_type(value: Any, api: str) -> int:
    text = str(value if value is not None else 1).strip()
    if text not in ("1", "2"):
        raise DefinitionError(
            None, str(declare.caller_location(3)), f"{api}: stored_as_scd_type must be 1 or 2, got {value!r}"
        )
    return int(text)


def apply_changes(
    target: str,
    source: str,
    keys: list[Any],
    sequence_by: Any,
    where: Any = None,
    ignore_null_updates: bool | None = None,
    apply_as_deletes: Any = None,
    apply_as_truncates: Any = None,
    column_list: list[Any] | None = None,
    except_column_list: list[Any] | None = None,
    stored_as_scd_type: str | int = "1",
    track_history_column_list: list[Any] | None = None,
    track_history_except_column_list: list[Any] | None = None,
    flow_name: str | None = None,
    once: bool = False,
    ignore_null_updates_column_list: list[Any] | None = None,
    ignore_null_updates_except_column_list: list[Any] | None = None,
    columns_to_update: Any = None,
) -> None:
    """AUTO CDC (classic name): upsert a change feed into a streaming table, SCD type 1 or 2."""
    _register_cdc("dlt.apply_changes", flow_name, dict(locals()))


def create_auto_cdc_flow(
    target: str,
    source: str,
    keys: list[Any],
    sequence_by: Any,
    where: Any = None,
    ignore_null_updates: bool | None = None,
    apply_as_deletes: Any = None,
    apply_as_truncates: Any = None,
    column_list: list[Any] | None = None,
    except_column_list: list[Any] | None = None,
    stored_as_scd_type: str | int = "1",
    track_history_column_list: list[Any] | None = None,
    track_history_except_column_list: list[Any] | None = None,
    name: str | None = None,
    once: bool = False,
    ignore_null_updates_column_list: list[Any] | None = None,
    ignore_null_updates_except_column_list: list[Any] | None = None,
    columns_to_update: Any = None,
) -> None:
    _register_cdc("dlt.create_auto_cdc_flow", name, dict(locals()))


def _register_cdc(api: str, flow_name: str | None, args: dict[str, Any]) -> None:
    registry = active_registry(api)
    location = declare.caller_location(3)
    target, source = args["target"], args["source"]
    declare.check_str(target, "target", api, location)
    if not isinstance(source, str):
        raise DefinitionError(target, str(location), f"{api}: source must be the name of a dataset")
    if args.get("columns_to_update") is not None:
        registry.warn(
            f"{api}: columns_to_update is not emulated locally and is ignored (flow {flow_name or target})"
        )
    keys = declare.names(args["keys"], "keys", api)
    if not keys:
        raise DefinitionError(target, str(location), f"{api}: keys must name at least one column")
    registry.add_flow(
        CdcFlowDef(
            name=flow_name or target,
            target=target,
            source=source,
            keys=keys,
            sequence_by=args["sequence_by"],
            location=location,
            where=args.get("where"),
            ignore_null_updates=bool(args.get("ignore_null_updates") or False),
            apply_as_deletes=args.get("apply_as_deletes"),
            apply_as_truncates=args.get("apply_as_truncates"),
            column_list=declare.names(args.get("column_list"), "column_list", api),
            except_column_list=declare.names(args.get("except_column_list"), "except_column_list", api),
            stored_as_scd_type=_scd_type(args.get("stored_as_scd_type"), api),
            track_history_column_list=declare.names(
                args.get("track_history_column_list"), "track_history_column_list", api
            ),
            track_history_except_column_list=declare.names(
                args.get("track_history_except_column_list"), "track_history_except_column_list", api
            ),
            once=bool(args.get("once") or False),
            ignore_null_updates_column_list=declare.names(
                args.get("ignore_null_updates_column_list"), "ignore_null_updates_column_list", api
            ),
            ignore_null_updates_except_column_list=declare.names(
                args.get("ignore_null_updates_except_column_list"),
                "ignore_null_updates_except_column_list",
                api,
            ),
        )
    )


def apply_changes_from_snapshot(
    target: str,
    source: Any = None,
    keys: list[Any] | None = None,
    stored_as_scd_type: str | int | None = None,
    snapshot_and_version: Callable[..., Any] | None = None,
    track_history_column_list: list[Any] | None = None,
    track_history_except_column_list: list[Any] | None = None,
) -> None:
    """Snapshot CDC (classic name): diff successive snapshots of a table, or of a versioned function."""
    _register_snapshot("dlt.apply_changes_from_snapshot", None, dict(locals()))


def create_auto_cdc_from_snapshot_flow(
    target: str,
    source: Any,
    keys: list[Any],
    stored_as_scd_type: str | int | None = None,
    track_history_column_list: list[Any] | None = None,
    track_history_except_column_list: list[Any] | None = None,
    name: str | None = None,
    once: bool = False,
) -> None:
    args = dict(locals())
    if callable(source):
        args["snapshot_and_version"], args["source"] = source, None
    _register_snapshot("dlt.create_auto_cdc_from_snapshot_flow", name, args)


def _register_snapshot(api: str, flow_name: str | None, args: dict[str, Any]) -> None:
    registry = active_registry(api)
    location = declare.caller_location(3)
    target = args["target"]
    declare.check_str(target, "target", api, location)
    source, function = args.get("source"), args.get("snapshot_and_version")
    if (source is None) == (function is None):
        raise DefinitionError(
            target, str(location), f"{api}: give exactly one of a source name or a snapshot function"
        )
    if source is not None and not isinstance(source, str):
        raise DefinitionError(target, str(location), f"{api}: source must be a dataset name or a function")
    keys = declare.names(args.get("keys"), "keys", api)
    if not keys:
        raise DefinitionError(target, str(location), f"{api}: keys must name at least one column")
    registry.add_flow(
        SnapshotCdcFlowDef(
            name=flow_name or target,
            target=target,
            keys=keys,
            location=location,
            source=source,
            snapshot_and_version=function,
            stored_as_scd_type=_scd_type(args.get("stored_as_scd_type"), api),
            track_history_column_list=declare.names(
                args.get("track_history_column_list"), "track_history_column_list", api
            ),
            track_history_except_column_list=declare.names(
                args.get("track_history_except_column_list"), "track_history_except_column_list", api
            ),
        )
    )


# --- expectations -------------------------------------------------------------------------------


def expect(name: str, inv: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Warn: keep violating rows and count them."""
    return declare.expectation_decorator(
        "dlt.expect", [Expectation(name, declare.constraint_text(inv), ExpectationAction.WARN)]
    )


def expect_or_drop(name: str, inv: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Drop violating rows before they are written, and count them."""
    return declare.expectation_decorator(
        "dlt.expect_or_drop", [Expectation(name, declare.constraint_text(inv), ExpectationAction.DROP)]
    )


def expect_or_fail(name: str, inv: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Stop the flow on the first violating row (EXPECTATION_VIOLATION)."""
    return declare.expectation_decorator(
        "dlt.expect_or_fail", [Expectation(name, declare.constraint_text(inv), ExpectationAction.FAIL)]
    )


def expect_all(expectations: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return declare.expectation_decorator(
        "dlt.expect_all", declare.expectations_from(expectations, ExpectationAction.WARN, "dlt.expect_all")
    )


def expect_all_or_drop(expectations: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return declare.expectation_decorator(
        "dlt.expect_all_or_drop",
        declare.expectations_from(expectations, ExpectationAction.DROP, "dlt.expect_all_or_drop"),
    )


def expect_all_or_fail(expectations: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return declare.expectation_decorator(
        "dlt.expect_all_or_fail",
        declare.expectations_from(expectations, ExpectationAction.FAIL, "dlt.expect_all_or_fail"),
    )


# --- reads and hooks ----------------------------------------------------------------------------


def read(name: str) -> Any:
    """The complete (batch) contents of another dataset of this pipeline."""
    return _resolver("read").read(name, streaming=False)


def read_stream(name: str) -> Any:
    """Another dataset of this pipeline as an incremental (streaming) input."""
    return _resolver("read_stream").read(name, streaming=True)


readStream = read_stream


def _resolver(api: str) -> Any:
    from harness.runtime.context import current_resolver

    resolver = current_resolver()
    if resolver is None:
        raise OutsidePipelineError(api)
    return resolver


def on_event_hook(
    user_event_hook_fn: Callable[[dict[str, Any]], None] | None = None,
    max_allowable_consecutive_failures: int | None = None,
) -> Any:
    """Call a function with every event the pipeline records (maturity STABLE), serially, off the update path."""
    api = "dlt.on_event_hook"
    if max_allowable_consecutive_failures is not None and (
        not isinstance(max_allowable_consecutive_failures, int) or max_allowable_consecutive_failures < 0
    ):
        raise DefinitionError(
            None,
            str(declare.caller_location()),
            f"{api}: max_allowable_consecutive_failures must be an int >= 0",
        )

    def register(func: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        active_registry(api).add_hook(
            EventHookDef(func, max_allowable_consecutive_failures, declare.location_of(func))
        )
        return func

    if user_event_hook_fn is not None:
        if not callable(user_event_hook_fn):
            raise DefinitionError(
                None,
                str(declare.caller_location()),
                "The first positional argument passed to @on_event_hook must be callable. Either add @on_event_hook "
                "with no parameters to your function, or pass options to @on_event_hook using keyword arguments.",
            )
        return register(user_event_hook_fn)
    return register


# --- deprecated aliases -------------------------------------------------------------------------


def create_table(*args: Any, **kwargs: Any) -> Any:
    declare.deprecated("create_table", "table")
    return table(*args, **kwargs)


def create_view(*args: Any, **kwargs: Any) -> Any:
    declare.deprecated("create_view", "view")
    return view(*args, **kwargs)


def create_target_table(*args: Any, **kwargs: Any) -> None:
    declare.deprecated("create_target_table", "create_streaming_table")
    return create_streaming_table(*args, **kwargs)


def create_streaming_live_table(*args: Any, **kwargs: Any) -> None:
    declare.deprecated("create_streaming_live_table", "create_streaming_table")
    return create_streaming_table(*args, **kwargs)
