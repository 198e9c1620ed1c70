"""Load a pipeline `.sql` file into the same registry the Python shim fills.

Statements are read in order with the file's state: `SET k = v` adds to the Spark conf of the
datasets and flows declared after it in the same file (not to the whole session), and
`USE CATALOG` / `USE SCHEMA` change where unqualified names resolve for the rest of the file, as
Databricks documents. Each dataset or flow becomes a `DatasetDef` / `FlowDef` / `CdcFlowDef`
whose query function evaluates the SQL body through the active resolver (`harness.sql.bind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import DefinitionError, SqlUnsupportedError
from harness.shim.records import CdcFlowDef, DatasetDef, DatasetKind, FlowDef
from harness.shim.registry import PipelineRegistry
from harness.sql.bind import evaluate
from harness.sql.parser import parse_statement
from harness.sql.rewrite import DatasetRead, QueryTemplate, rewrite_body
from harness.sql.split import split_statements, substitute
from harness.sql.statements import (
    Body,
    ChangeFlow,
    Column,
    CreateDataset,
    CreateFlow,
    SetConf,
    SqlDatasetKind,
    SqlStatement,
    Use,
)

_KINDS = {
    SqlDatasetKind.STREAMING_TABLE: DatasetKind.STREAMING_TABLE,
    SqlDatasetKind.MATERIALIZED_VIEW: DatasetKind.MATERIALIZED_VIEW,
    SqlDatasetKind.TEMPORARY_VIEW: DatasetKind.VIEW,
    SqlDatasetKind.VIEW: DatasetKind.VIEW,
}


@dataclass(frozen=True)
class SqlQuery:
    """The query function of a SQL dataset or flow: callable like a Python dataset function."""

    template: QueryTemplate
    dataset: str
    columns: tuple[Column, ...] = ()

    def __call__(self) -> Any:
        df = evaluate(self.template, self.dataset)
        return shape(df, self.columns, self.dataset, f"{self.template.path}:{self.template.line}")


def shape(df: Any, columns: tuple[Column, ...], dataset: str, location: str) -> Any:
    """Apply a column list: rename a view's / untyped list, add GENERATED ALWAYS AS columns."""
    if not columns:
        return df
    if all(c.type is None for c in columns):
        if len(columns) != len(df.columns):
            raise DefinitionError(
                dataset,
                location,
                f"the column list names {len(columns)} columns, the query returns {len(df.columns)}",
            )
        return df.toDF(*[c.name for c in columns])
    from pyspark.sql import functions as F

    present = {c.lower() for c in df.columns}
    for column in columns:
        if column.generated and column.name.lower() not in present:
            df = df.withColumn(column.name, F.expr(column.generated))
    return df


def schema_ddl(columns: tuple[Column, ...]) -> str | None:
    """The declared schema of a typed column list, as a DDL string the runtime applies."""
    if not columns or all(c.type is None for c in columns):
        return None
    parts = []
    for column in columns:
        text = f"`{column.name.replace('`', '``')}` {column.type}"
        if column.not_null:
            text += " NOT NULL"
        if column.comment is not None:
            text += " COMMENT '" + column.comment.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(text)
    return ", ".join(parts)


@dataclass
class FileState:
    """What earlier statements of the file set for the ones after them."""

    path: str
    default_catalog: str | None
    default_schema: str
    conf: dict[str, str] = field(default_factory=dict)
    catalog: str | None = None
    schema: str | None = None

    def qualify(self, name: str) -> str:
        """An unqualified or schema-qualified name under the file's USE catalog / schema."""
        if self.catalog is None and self.schema is None:
            return name
        parts = name.split(".")
        if parts[0].strip("`").lower() == "live":
            return name
        catalog = self.catalog or self.default_catalog
        schema = self.schema or self.default_schema
        if len(parts) == 1:
            return f"{catalog}.{schema}.{name}" if catalog else f"{schema}.{name}"
        if len(parts) == 2 and catalog:
            return f"{catalog}.{name}"
        return name

    def is_default(self) -> bool:
        same_catalog = self.catalog is None or (self.catalog.lower() == (self.default_catalog or "").lower())
        same_schema = self.schema is None or self.schema.lower() == self.default_schema.lower()
        return same_catalog and same_schema


def parse_file(text: str, path: str, configuration: Mapping[str, str]) -> list[SqlStatement]:
    """Every statement of a file as records (no Spark needed): split, substitute, parse."""
    records = []
    for statement in split_statements(text, path):
        record = parse_statement(substitute(statement, configuration))
        if record is not None:
            records.append(record)
    return records


def load_sql_file(
    path: Path,
    registry: PipelineRegistry,
    configuration: Mapping[str, str],
    catalog: str | None,
    schema: str,
) -> None:
    """Register every dataset and flow a `.sql` source declares."""
    load_sql_text(path.read_text(encoding="utf-8"), str(path), registry, configuration, catalog, schema)


def load_sql_text(
    text: str,
    path: str,
    registry: PipelineRegistry,
    configuration: Mapping[str, str],
    catalog: str | None,
    schema: str,
) -> None:
    """Register the datasets and flows of SQL text read from `path` (pyspark.pipelines' register_sql)."""
    state = FileState(path, catalog, schema)
    for record in parse_file(text, path, configuration):
        _register(record, state, registry)


def _template(body: Body, state: FileState) -> QueryTemplate:
    template = rewrite_body(body, state.path)
    if state.is_default():
        return template
    sources = tuple(
        replace(s, name=state.qualify(s.name)) if isinstance(s, DatasetRead) else s for s in template.sources
    )
    return replace(template, sources=sources)


def _own_name(name: str, state: FileState, line: int) -> str:
    """A declared dataset's name; datasets outside the pipeline's schema are refused."""
    if state.is_default() or "." in name:
        return name
    raise SqlUnsupportedError(
        f"a dataset declared after USE {state.catalog or ''}{'.' if state.catalog else ''}{state.schema or ''}",
        state.path,
        line,
        "publishing datasets to a second catalog / schema is not emulated locally; declare them in the "
        "pipeline's own schema",
    )


def _register(record: SqlStatement, state: FileState, registry: PipelineRegistry) -> None:
    if isinstance(record, SetConf):
        if record.value is not None:
            state.conf[record.key] = record.value
        return
    if isinstance(record, Use):
        if record.what == "catalog":
            state.catalog, state.schema = record.name.strip("`"), None
        else:
            parts = [p.strip("`") for p in record.name.split(".")]
            if len(parts) == 2:
                state.catalog = parts[0]
            state.schema = parts[-1]
        return
    conf = dict(state.conf)
    if isinstance(record, CreateDataset):
        _dataset(record, state, registry, conf)
    elif isinstance(record, CreateFlow):
        registry.add_flow(
            FlowDef(
                name=record.name.split(".")[-1].strip("`"),
                target=record.target,
                func=SqlQuery(_template(record.query, state), record.target),
                location=record.location,
                is_default=False,
                once=record.once,
                spark_conf=conf,
                comment=record.comment,
            )
        )
    elif isinstance(record, ChangeFlow):
        registry.add_flow(_cdc(record, state, conf))


def _dataset(
    record: CreateDataset, state: FileState, registry: PipelineRegistry, conf: dict[str, str]
) -> None:
    name = _own_name(record.name, state, record.location.line or 0)
    kind = _KINDS[record.kind]
    is_view = kind is DatasetKind.VIEW
    registry.add_dataset(
        DatasetDef(
            name=name,
            kind=kind,
            location=record.location,
            api=f"sql: {record.spelling}",
            comment=record.comment,
            spark_conf=conf,
            table_properties=dict(record.table_properties),
            partition_cols=record.partition_cols,
            cluster_by=record.cluster_by,
            cluster_by_auto=record.cluster_by_auto,
            schema=None if is_view else schema_ddl(record.columns),
            path=record.path,
            private=record.private,
            row_filter=record.row_filter,
            format=record.format,
            expectations=() if is_view else record.expectations,
        )
    )
    if record.query is None:
        return
    registry.add_flow(
        FlowDef(
            name=name,
            target=name,
            func=SqlQuery(_template(record.query, state), name, record.columns),
            location=record.location,
            is_default=True,
            spark_conf=conf,
            comment=record.comment,
            expectations=record.expectations if is_view else (),
        )
    )


def _cdc(record: ChangeFlow, state: FileState, conf: dict[str, str]) -> CdcFlowDef:
    sequence: Any = record.sequence_by.strip()
    plain = sequence.strip("`")
    if not (plain.replace("_", "").isalnum() and not plain[:1].isdigit()):
        from pyspark.sql import functions as F

        sequence = F.expr(sequence)
    else:
        sequence = plain
    source = record.source if state.is_default() else state.qualify(record.source)
    return CdcFlowDef(
        name=record.name.split(".")[-1].strip("`"),
        target=record.target,
        source=source,
        keys=record.keys,
        sequence_by=sequence,
        location=record.location,
        where=record.where,
        ignore_null_updates=record.ignore_null_updates,
        apply_as_deletes=record.delete_when,
        apply_as_truncates=record.truncate_when,
        column_list=record.columns,
        except_column_list=record.except_columns,
        stored_as_scd_type=record.scd_type,
        track_history_column_list=record.track_history,
        track_history_except_column_list=record.track_history_except,
        once=record.once,
    )
