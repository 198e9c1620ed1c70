"""What a pipeline `.sql` statement declares, as frozen records (parsed headers, verbatim bodies).

The parser (`harness.sql.parser`) builds these from statement text; `harness.sql.register` turns
them into the shim's records (`harness.shim.records`), so SQL and Python datasets meet in one
registry. Every record carries the `SourceLocation` (file:line) of its statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from harness.shim.records import Expectation, SourceLocation


class SqlDatasetKind(StrEnum):
    STREAMING_TABLE = (
        "streaming_table"  # CREATE [OR REFRESH] STREAMING TABLE, STREAMING / INCREMENTAL LIVE TABLE
    )
    MATERIALIZED_VIEW = "materialized_view"  # CREATE [OR REFRESH] MATERIALIZED VIEW, legacy LIVE TABLE
    TEMPORARY_VIEW = "temporary_view"  # CREATE TEMPORARY VIEW, legacy [TEMPORARY] [STREAMING] LIVE VIEW
    VIEW = "view"  # CREATE VIEW: persisted (published) view, no expectations


@dataclass(frozen=True)
class Column:
    """One column of a column list; `type` is None in a view's list (names and comments only)."""

    name: str
    type: str | None = None
    not_null: bool = False
    comment: str | None = None
    generated: str | None = None  # GENERATED ALWAYS AS (expr): the expression text


@dataclass(frozen=True)
class Body:
    """A query as written after the header (comments blanked), and the line it starts on."""

    text: str
    line: int


@dataclass(frozen=True)
class CreateDataset:
    kind: SqlDatasetKind
    name: str
    spelling: str  # the header as written, e.g. "CREATE OR REFRESH STREAMING LIVE TABLE" (for events)
    location: SourceLocation
    private: bool = False
    columns: tuple[Column, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    table_constraints: tuple[str, ...] = ()  # PRIMARY KEY / FOREIGN KEY / ...: recorded, informational
    comment: str | None = None
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    cluster_by_auto: bool = False
    table_properties: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None  # LOCATION '...'
    format: str | None = None  # USING ...
    row_filter: str | None = None
    query: Body | None = None
    conf: Mapping[str, str] = field(default_factory=dict)  # SET values in effect at this statement


@dataclass(frozen=True)
class CreateFlow:
    """CREATE FLOW f AS INSERT INTO [ONCE] t BY NAME query (also spelled INSERT ONCE INTO)."""

    name: str
    target: str
    query: Body
    location: SourceLocation
    once: bool = False
    comment: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeFlow:
    """CREATE FLOW f AS AUTO CDC [ONCE] INTO ..., or the standalone APPLY CHANGES INTO ...."""

    name: str
    target: str
    source: str
    keys: tuple[str, ...]
    sequence_by: str  # SQL expression text (a column name in most pipelines)
    location: SourceLocation
    where: str | None = None
    ignore_null_updates: bool = False
    delete_when: str | None = None
    truncate_when: str | None = None
    columns: tuple[str, ...] | None = None
    except_columns: tuple[str, ...] | None = None
    scd_type: int = 1
    track_history: tuple[str, ...] | None = None
    track_history_except: tuple[str, ...] | None = None
    once: bool = False
    spelling: str = "APPLY CHANGES INTO"
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetConf:
    """SET key = value: applies to the flows declared after it in the same file."""

    key: str
    value: str | None  # None: `SET key` only shows the value


@dataclass(frozen=True)
class Use:
    """USE CATALOG c / USE SCHEMA s: the file's current catalog / schema for what follows."""

    what: str  # "catalog" | "schema"
    name: str


SqlStatement = CreateDataset | CreateFlow | ChangeFlow | SetConf | Use
