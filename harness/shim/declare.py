"""Shared internals of the `dlt` and `dp` decorators: turn arguments into records, register them.

`dlt_api` (the classic `import dlt` surface) and `dp_extras` (Databricks-only names added to
`pyspark.pipelines`) both call these helpers, so there is one validator and one registration path
per kind of declaration.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.errors import DefinitionError, HarnessError
from harness.shim.records import (
    DatasetDef,
    DatasetKind,
    Expectation,
    ExpectationAction,
    FlowDef,
    SourceLocation,
)
from harness.shim.registry import active_registry

#: Attribute under which expectation decorators park their rules on the dataset function.
EXPECTATIONS_ATTR = "__harness_expectations__"


def location_of(func: Callable[..., Any]) -> SourceLocation:
    code = getattr(func, "__code__", None)
    if code is None:
        return caller_location(2)
    return SourceLocation(code.co_filename, code.co_firstlineno)


def caller_location(depth: int = 2) -> SourceLocation:
    """The first frame outside the harness shim (the user's declaration), for errors and the event log."""
    frame = inspect.currentframe()
    for _ in range(depth):
        if frame is None:
            break
        frame = frame.f_back
    while frame is not None and (
        "/harness/shim/" in frame.f_code.co_filename or "pyspark/pipelines" in frame.f_code.co_filename
    ):
        frame = frame.f_back
    if frame is None:
        return SourceLocation("<unknown>", None)
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno)


def constraint_text(constraint: Any) -> str:
    """A SQL string for an expectation given as a string or a Column."""
    if isinstance(constraint, str):
        return constraint
    jc = getattr(constraint, "_jc", None)
    if jc is not None:
        return str(jc.toString())
    text = str(constraint)
    return text[len("Column<'") : -len("'>")] if text.startswith("Column<'") else text


def column_name(value: Any, what: str, api: str) -> str:
    """A plain column name from a str or a Column (AUTO CDC keys must be unqualified names)."""
    if isinstance(value, str):
        return value
    text = constraint_text(value)
    if not text.replace("_", "").replace("`", "").isalnum():
        raise DefinitionError(
            None, str(caller_location(3)), f"{api}: {what} must be plain column names, got {text!r}"
        )
    return text.strip("`")


def names(values: Iterable[Any] | None, what: str, api: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise DefinitionError(None, str(caller_location(3)), f"{api}: {what} must be a list of column names")
    return tuple(column_name(v, what, api) for v in values)


def expectations_from(
    mapping: Mapping[str, Any] | None, action: ExpectationAction, api: str
) -> list[Expectation]:
    if mapping is None:
        return []
    if not isinstance(mapping, Mapping):
        raise DefinitionError(None, str(caller_location(3)), f"{api} takes a dict of {{name: constraint}}")
    return [Expectation(str(name), constraint_text(rule), action) for name, rule in mapping.items()]


def expectation_decorator(
    api: str, rules: list[Expectation]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Park rules on the function; the dataset decorator above it collects them (decorators run bottom-up)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise DefinitionError(None, str(caller_location()), f"@{api} must decorate a function")
        existing: list[Expectation] = list(getattr(func, EXPECTATIONS_ATTR, []))
        try:
            setattr(func, EXPECTATIONS_ATTR, rules + existing)
        except AttributeError as exc:  # e.g. a builtin
            raise DefinitionError(getattr(func, "__name__", None), str(location_of(func)), str(exc)) from exc
        return func

    return decorate


def attached_expectations(func: Callable[..., Any], dataset: str) -> tuple[Expectation, ...]:
    rules: list[Expectation] = list(getattr(func, EXPECTATIONS_ATTR, []))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise DefinitionError(
                dataset,
                str(location_of(func)),
                f"expectation name {rule.name!r} is used twice; names must be unique per dataset",
            )
        seen.add(rule.name)
    return tuple(rules)


def check_str(value: Any, what: str, api: str, location: SourceLocation) -> None:
    if value is not None and not isinstance(value, str):
        raise DefinitionError(
            None, str(location), f"{api}: {what} must be a string, got {type(value).__name__}"
        )


def check_conf(value: Any, what: str, api: str, location: SourceLocation) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DefinitionError(None, str(location), f"{api}: {what} must be a dict of strings")
    return {str(k): str(v) for k, v in value.items()}


def dataset_decorator(
    api: str,
    kind: DatasetKind,
    query_function: Callable[..., Any] | None,
    options: dict[str, Any],
) -> Any:
    """Handle both `@api` and `@api(...)`: register a dataset and its default flow."""
    if query_function is not None and not callable(query_function):
        raise DefinitionError(
            None,
            str(caller_location(3)),
            f"The first positional argument passed to @{api.split('.')[-1]} must be callable. Either add "
            f"@{api.split('.')[-1]} with no parameters to your function, or pass options to "
            f"@{api.split('.')[-1]} using keyword arguments.",
        )

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise DefinitionError(None, str(caller_location(2)), f"@{api} must decorate a function")
        registry = active_registry(api)
        location = location_of(func)
        name = options.get("name") or func.__name__
        check_str(name, "name", api, location)
        check_str(options.get("comment"), "comment", api, location)
        expectations = attached_expectations(func, name)
        dataset = DatasetDef(
            name=name,
            kind=kind,
            location=location,
            api=api,
            comment=options.get("comment"),
            spark_conf=check_conf(options.get("spark_conf"), "spark_conf", api, location),
            table_properties=check_conf(options.get("table_properties"), "table_properties", api, location),
            partition_cols=tuple(options.get("partition_cols") or ()),
            cluster_by=tuple(options.get("cluster_by") or ()),
            cluster_by_auto=bool(options.get("cluster_by_auto") or False),
            schema=options.get("schema"),
            path=options.get("path"),
            private=bool(options.get("private") or options.get("temporary") or False),
            row_filter=options.get("row_filter"),
            format=options.get("format"),
        )
        registry.add_dataset(dataset)
        registry.add_flow(
            FlowDef(
                name=name,
                target=name,
                func=func,
                location=location,
                is_default=True,
                spark_conf=dataset.spark_conf,
                comment=dataset.comment,
                expectations=expectations,
            )
        )
        return func

    if query_function is not None:
        return register(query_function)
    return register


def deprecated(old: str, new: str) -> None:
    message = f"Function {old} has been deprecated. Please use {new} instead."
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    with contextlib.suppress(HarnessError):  # outside a pipeline the decorator itself raises next
        active_registry(old).warn(message)
