"""What the harness intercepts in pyspark while (and only while) it runs a pipeline.

* Reads of pipeline datasets — ``spark.read.table``, ``spark.table``, ``spark.readStream.table``,
  ``dlt.read`` / ``dlt.read_stream`` and ``LIVE.`` names in ``spark.sql`` — go to the active
  resolver, which records the dependency and maps the name to the local table.
* ``spark.readStream.format("cloudFiles")`` goes to the Auto Loader emulation.
* ``/Volumes/...`` paths given to Spark readers map onto the local volume directory.
* Actions Databricks forbids inside dataset functions (collect, count, toPandas, save,
  saveAsTable, start, toTable) raise `ForbiddenActionError` naming the dataset and the line.

The patches are installed by `intercepting()` for the duration of a run and removed afterwards;
behaviour is unchanged when no resolver is active (e.g. harness-internal code, other threads).
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness.errors import ForbiddenActionError
from harness.runtime.context import current_frame, current_resolver

FORBIDDEN_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("pyspark.sql.classic.dataframe", "DataFrame", "collect"),
    ("pyspark.sql.classic.dataframe", "DataFrame", "count"),
    ("pyspark.sql.classic.dataframe", "DataFrame", "toPandas"),
    ("pyspark.sql.readwriter", "DataFrameWriter", "save"),
    ("pyspark.sql.readwriter", "DataFrameWriter", "saveAsTable"),
    ("pyspark.sql.streaming.readwriter", "DataStreamWriter", "start"),
    ("pyspark.sql.streaming.readwriter", "DataStreamWriter", "toTable"),
)

_PATH_READERS = ("load", "json", "csv", "parquet", "text", "orc")

_lock = threading.Lock()
_depth = 0
_originals: list[tuple[type, str, Any]] = []


def _user_location() -> str:
    """The innermost frame outside pyspark and the harness: the line that called the action."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if "/pyspark/" in name or "/harness/" in name or "/py4j/" in name:
            continue
        return f"{name}:{frame.lineno}"
    return "<unknown>"


def _forbid(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        frame = current_frame()
        if frame is not None:
            raise ForbiddenActionError(action, frame.dataset, _user_location())
        return original(*args, **kwargs)

    return guarded


# --- readers --------------------------------------------------------------------------------------


def _remember(attribute: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Keep what was set on a stream reader on the Python object, so load()/table() can see it."""

    @functools.wraps(original)
    def remembering(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if current_resolver() is not None:
            state = self.__dict__.setdefault(
                "_harness_reader", {"format": None, "options": {}, "schema": None}
            )
            if attribute == "format":
                state["format"] = args[0] if args else kwargs.get("source")
            elif attribute == "option":
                key = args[0] if args else kwargs.get("key")
                value = args[1] if len(args) > 1 else kwargs.get("value")
                state["options"][str(key)] = value if isinstance(value, str) else _to_str(value)
            elif attribute == "options":
                state["options"].update({str(k): _to_str(v) for k, v in kwargs.items()})
            elif attribute == "schema":
                state["schema"] = args[0] if args else kwargs.get("schema")
        return result

    return remembering


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _stream_load(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def load(self: Any, path: Any = None, format: Any = None, schema: Any = None, **options: Any) -> Any:
        resolver = current_resolver()
        if resolver is None:
            return original(self, path, format, schema, **options)
        state = self.__dict__.get("_harness_reader", {"format": None, "options": {}, "schema": None})
        fmt = format or state["format"]
        if isinstance(fmt, str) and fmt.lower() == "cloudfiles":
            merged = dict(state["options"])
            merged.update({str(k): _to_str(v) for k, v in options.items()})
            return resolver.cloud_files(path, merged, schema if schema is not None else state["schema"])
        if isinstance(path, str):
            path = resolver.map_path(path)
        return original(self, path, format, schema, **options)

    return load


def _path_reader(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(self: Any, path: Any = None, *args: Any, **kwargs: Any) -> Any:
        resolver = current_resolver()
        if resolver is not None:
            if isinstance(path, str):
                path = resolver.map_path(path)
            elif isinstance(path, list | tuple):
                path = [resolver.map_path(p) if isinstance(p, str) else p for p in path]
        return original(self, path, *args, **kwargs)

    return read


def _table_reader(streaming: bool, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def table(self: Any, tableName: str, *args: Any, **kwargs: Any) -> Any:
        resolver = current_resolver()
        if resolver is None:
            return original(self, tableName, *args, **kwargs)
        return resolver.read(tableName, streaming=streaming, reader=self)

    return table


def _session_table(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def table(self: Any, tableName: str) -> Any:
        resolver = current_resolver()
        if resolver is None:
            return original(self, tableName)
        return resolver.read(tableName, streaming=False, reader=None)

    return table


def _session_sql(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def sql(self: Any, sqlQuery: str, *args: Any, **kwargs: Any) -> Any:
        resolver = current_resolver()
        if resolver is not None and isinstance(sqlQuery, str):
            sqlQuery = resolver.rewrite_sql(sqlQuery)
        return original(self, sqlQuery, *args, **kwargs)

    return sql


def _patch(cls: type, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = cls.__dict__[name]
    _originals.append((cls, name, original))
    setattr(cls, name, wrapper(original))


def _install() -> None:
    import importlib

    from pyspark.sql.readwriter import DataFrameReader
    from pyspark.sql.session import SparkSession
    from pyspark.sql.streaming.readwriter import DataStreamReader

    for module_name, class_name, action in FORBIDDEN_ACTIONS:
        cls = getattr(importlib.import_module(module_name), class_name)
        _patch(cls, action, functools.partial(_forbid, action))
    for attribute in ("format", "option", "options", "schema"):
        _patch(DataStreamReader, attribute, functools.partial(_remember, attribute))
    _patch(DataStreamReader, "load", _stream_load)
    _patch(DataStreamReader, "table", functools.partial(_table_reader, True))
    for name in _PATH_READERS:
        _patch(DataFrameReader, name, _path_reader)
    for name in ("json", "csv", "parquet", "text", "orc"):
        _patch(DataStreamReader, name, _path_reader)
    _patch(DataFrameReader, "table", functools.partial(_table_reader, False))
    _patch(SparkSession, "table", _session_table)
    _patch(SparkSession, "sql", _session_sql)


def _uninstall() -> None:
    while _originals:
        cls, name, original = _originals.pop()
        setattr(cls, name, original)


@contextmanager
def intercepting() -> Iterator[None]:
    """Install the interception for the duration of a run (re-entrant; thread-safe)."""
    global _depth
    with _lock:
        if _depth == 0:
            _install()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _uninstall()


def original_method(cls: type, name: str) -> Callable[..., Any]:
    """The unpatched method, for harness code that must bypass the interception."""
    for patched_cls, patched_name, original in _originals:
        if patched_cls is cls and patched_name == name:
            return original
    return getattr(cls, name)
