"""Issue 14 point 1: the SQL front end without a JVM: splitting, `${}` substitution, header records.

Oracle: Databricks' pipeline SQL reference (CREATE STREAMING TABLE, CREATE MATERIALIZED VIEW,
CREATE FLOW, AUTO CDC INTO / APPLY CHANGES INTO, SET, USE) as summarised in docs/sql.md.
"""

from __future__ import annotations

import pytest

from harness.errors import SqlConfigurationError, SqlSyntaxError, SqlUnsupportedError
from harness.shim.records import ExpectationAction
from harness.sql.parser import parse_statement
from harness.sql.register import parse_file
from harness.sql.split import Statement, split_statements, substitute
from harness.sql.statements import ChangeFlow, CreateDataset, CreateFlow, SetConf, SqlDatasetKind, Use

pytestmark = pytest.mark.unit


def one(text: str) -> object:
    statements = split_statements(text, "p.sql")
    assert len(statements) == 1
    return parse_statement(statements[0])


# --- splitting -------------------------------------------------------------------------------------


def test_semicolons_in_strings_backticks_comments_and_parentheses_do_not_split() -> None:
    text = (
        "SET a = 'x;y';\n"
        "-- a comment; with a semicolon\n"
        "CREATE MATERIALIZED VIEW `odd;name` AS SELECT ';' AS s /* ; */ FROM t WHERE x IN (1, 2);\n"
        ";;\n"
        "CREATE TEMPORARY VIEW v AS SELECT 1"
    )
    statements = split_statements(text, "p.sql")
    assert [s.line for s in statements] == [1, 3, 5]
    assert statements[1].text.startswith("CREATE MATERIALIZED VIEW `odd;name`")
    assert "/*" not in statements[1].text  # comments are blanked, lines kept


def test_notebook_cells_end_statements_without_semicolon() -> None:
    text = (
        "-- Databricks notebook source\n"
        "-- MAGIC %md\n"
        "-- MAGIC # Bronze\n"
        "\n"
        "-- COMMAND ----------\n"
        "\n"
        "-- DBTITLE 1,Orders\n"
        "CREATE OR REFRESH MATERIALIZED VIEW a AS SELECT 1 AS x\n"
        "\n"
        "-- COMMAND ----------\n"
        "CREATE OR REFRESH MATERIALIZED VIEW b AS SELECT * FROM a;\n"
        "CREATE OR REFRESH MATERIALIZED VIEW c AS SELECT * FROM b\n"
    )
    statements = split_statements(text, "nb.sql")
    assert [(s.line, s.text.split()[5]) for s in statements] == [(8, "a"), (11, "b"), (12, "c")]


def test_a_plain_file_does_not_treat_command_comments_as_breaks() -> None:
    text = "CREATE MATERIALIZED VIEW a AS SELECT 1\n-- COMMAND ----------\nAS x;"
    assert len(split_statements(text, "p.sql")) == 1


def test_an_unterminated_string_is_a_syntax_error_with_its_line() -> None:
    with pytest.raises(SqlSyntaxError) as info:
        split_statements("SET a = 1;\nCREATE MATERIALIZED VIEW a AS SELECT 'oops", "p.sql")
    assert (info.value.path, info.value.line) == ("p.sql", 2)


def test_substitution_uses_the_configuration_and_names_a_missing_key() -> None:
    statement = Statement(
        "SELECT *\nFROM read_files('${source.path}/orders', format => '${fmt}')", "p.sql", 4
    )
    assert "'/land/orders'" in substitute(statement, {"source.path": "/land", "fmt": "json"}).text
    with pytest.raises(SqlConfigurationError) as info:
        substitute(statement, {"source.path": "/land"})
    assert (info.value.key, info.value.path, info.value.line) == ("fmt", "p.sql", 5)


def test_a_reference_in_a_comment_is_not_substituted() -> None:
    records = parse_file("-- uses ${nothing}\nSET k = v;", "p.sql", {})
    assert records == [SetConf("k", "v")]


# --- datasets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind", "private"),
    [
        ("CREATE OR REFRESH STREAMING TABLE t", SqlDatasetKind.STREAMING_TABLE, False),
        ("CREATE STREAMING TABLE t", SqlDatasetKind.STREAMING_TABLE, False),
        ("CREATE OR REFRESH PRIVATE STREAMING TABLE t", SqlDatasetKind.STREAMING_TABLE, True),
        ("CREATE OR REFRESH TEMPORARY STREAMING TABLE t", SqlDatasetKind.STREAMING_TABLE, True),
        ("CREATE OR REFRESH MATERIALIZED VIEW t", SqlDatasetKind.MATERIALIZED_VIEW, False),
        ("CREATE OR REPLACE MATERIALIZED VIEW t", SqlDatasetKind.MATERIALIZED_VIEW, False),
        ("CREATE OR REFRESH PRIVATE MATERIALIZED VIEW t", SqlDatasetKind.MATERIALIZED_VIEW, True),
        ("CREATE OR REFRESH LIVE TABLE t", SqlDatasetKind.MATERIALIZED_VIEW, False),
        ("CREATE OR REFRESH TEMPORARY LIVE TABLE t", SqlDatasetKind.MATERIALIZED_VIEW, True),
        ("CREATE OR REFRESH STREAMING LIVE TABLE t", SqlDatasetKind.STREAMING_TABLE, False),
        ("CREATE INCREMENTAL LIVE TABLE t", SqlDatasetKind.STREAMING_TABLE, False),
        ("CREATE TEMPORARY VIEW t", SqlDatasetKind.TEMPORARY_VIEW, False),
        ("CREATE TEMPORARY LIVE VIEW t", SqlDatasetKind.TEMPORARY_VIEW, False),
        ("CREATE TEMPORARY STREAMING LIVE VIEW t", SqlDatasetKind.TEMPORARY_VIEW, False),
        ("CREATE LIVE VIEW t", SqlDatasetKind.TEMPORARY_VIEW, False),
        ("CREATE VIEW t", SqlDatasetKind.VIEW, False),
    ],
)
def test_every_create_form_maps_to_its_kind(header: str, kind: SqlDatasetKind, private: bool) -> None:
    record = one(f"{header} AS SELECT 1 AS x")
    assert isinstance(record, CreateDataset)
    assert (record.kind, record.private, record.name) == (kind, private, "t")
    assert record.query is not None and record.query.text == "SELECT 1 AS x"


def test_column_list_types_constraints_and_clauses_are_recorded() -> None:
    record = one(
        """CREATE OR REFRESH STREAMING TABLE main.sales.orders (
             id BIGINT NOT NULL COMMENT 'order id',
             items ARRAY<STRUCT<sku: STRING, qty: INT>> COMMENT 'lines, in order',
             amount DECIMAL(10, 2),
             amount_cents BIGINT GENERATED ALWAYS AS (CAST(amount * 100 AS BIGINT)),
             CONSTRAINT valid_id EXPECT (id IS NOT NULL AND id > 0) ON VIOLATION DROP ROW,
             CONSTRAINT has_items EXPECT (size(items) > 0) ON VIOLATION FAIL UPDATE,
             CONSTRAINT positive EXPECT (amount >= 0),
             CONSTRAINT orders_pk PRIMARY KEY (id)
           )
           USING DELTA
           PARTITIONED BY (amount)
           COMMENT 'orders; one row each'
           TBLPROPERTIES (pipelines.autoOptimize.zOrderCols = 'id', 'quality' = 'silver', delta.appendOnly = true)
           LOCATION '/Volumes/main/sales/tables/orders'
           AS SELECT * FROM STREAM(raw)"""
    )
    assert isinstance(record, CreateDataset)
    assert [(c.name, c.type, c.not_null) for c in record.columns] == [
        ("id", "BIGINT", True),
        ("items", "ARRAY<STRUCT<sku: STRING, qty: INT>>", False),
        ("amount", "DECIMAL(10, 2)", False),
        ("amount_cents", "BIGINT", False),
    ]
    assert record.columns[0].comment == "order id"
    assert record.columns[3].generated == "CAST(amount * 100 AS BIGINT)"
    assert [(e.name, e.constraint, e.action) for e in record.expectations] == [
        ("valid_id", "id IS NOT NULL AND id > 0", ExpectationAction.DROP),
        ("has_items", "size(items) > 0", ExpectationAction.FAIL),
        ("positive", "amount >= 0", ExpectationAction.WARN),
    ]
    assert record.table_constraints == ("CONSTRAINT orders_pk PRIMARY KEY (id)",)
    assert record.table_properties == {
        "pipelines.autoOptimize.zOrderCols": "id",
        "quality": "silver",
        "delta.appendOnly": "true",
    }
    assert (record.format, record.partition_cols, record.comment) == (
        "delta",
        ("amount",),
        "orders; one row each",
    )
    assert record.path == "/Volumes/main/sales/tables/orders"
    assert record.name == "main.sales.orders"


def test_cluster_by_and_a_target_table_without_query() -> None:
    record = one("CREATE OR REFRESH STREAMING TABLE target (CONSTRAINT ok EXPECT (x > 0)) CLUSTER BY (a, b)")
    assert isinstance(record, CreateDataset)
    assert record.query is None and record.cluster_by == ("a", "b") and len(record.expectations) == 1
    auto = one("CREATE MATERIALIZED VIEW m CLUSTER BY AUTO AS SELECT 1")
    assert isinstance(auto, CreateDataset) and auto.cluster_by_auto


def test_a_view_column_list_renames_and_comments() -> None:
    record = one("CREATE TEMPORARY VIEW v (a COMMENT 'first', b) COMMENT 'two' AS SELECT x, y FROM t")
    assert isinstance(record, CreateDataset)
    assert [(c.name, c.type, c.comment) for c in record.columns] == [("a", None, "first"), ("b", None, None)]


@pytest.mark.parametrize(
    "text",
    [
        "CREATE OR REFRESH MATERIALIZED VIEW m",  # no query
        "CREATE OR REFRESH STREAMING TABLE t (CONSTRAINT c EXPECT x > 0) AS SELECT 1",  # no parentheses
        "CREATE OR REFRESH STREAMING TABLE t (CONSTRAINT c EXPECT (x > 0) ON VIOLATION SKIP) AS SELECT 1",
        "CREATE OR REFRESH STREAMING TABLE t COMMENT no_quotes AS SELECT 1",
        "CREATE OR REFRESH STREAMING MATERIALIZED VIEW t AS SELECT 1",
        "CREATE VIEW v (CONSTRAINT c EXPECT (x > 0)) AS SELECT 1 AS x",  # persisted views take no expectations
        "CREATE FLOW f AS INSERT INTO t SELECT 1",  # BY NAME is required
        "CREATE MATERIALIZED VIEW m (a INT, b) AS SELECT 1, 2",  # typed and untyped columns mixed
        "CREATE OR REFRESH STREAMING TABLE t (CONSTRAINT a EXPECT (x > 0), CONSTRAINT a EXPECT (x < 9)) AS SELECT 1",
    ],
)
def test_malformed_headers_are_syntax_errors_naming_file_and_line(text: str) -> None:
    with pytest.raises(SqlSyntaxError) as info:
        one("\n\n" + text)
    assert info.value.path == "p.sql" and info.value.line >= 3 and info.value.statement.startswith("CREATE")


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("CREATE SINK s OPTIONS (a = 'b')", "CREATE SINK"),
        ("CREATE FUNCTION f() RETURNS INT RETURN 1", "CREATE FUNCTION"),
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        ("INSERT INTO t SELECT 1", "INSERT INTO"),
        ("OPTIMIZE t", "OPTIMIZE T"),
        ("CREATE MATERIALIZED VIEW m SCHEDULE EVERY 1 HOUR AS SELECT 1", "SCHEDULE"),
        ("CREATE STREAMING TABLE t (id INT MASK m) AS SELECT 1", "MASK on column id"),
        (
            "CREATE STREAMING TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY) AS SELECT 1",
            "identity column id",
        ),
    ],
)
def test_statements_with_no_local_meaning_are_refused_by_name(text: str, feature: str) -> None:
    with pytest.raises(SqlUnsupportedError) as info:
        one(text)
    assert info.value.feature == feature and info.value.path == "p.sql"


# --- flows -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "once"),
    [
        ("CREATE FLOW backfill AS INSERT INTO ONCE target BY NAME SELECT * FROM old", True),
        ("CREATE FLOW backfill AS INSERT ONCE INTO target BY NAME SELECT * FROM old", True),
        (
            "CREATE FLOW backfill COMMENT 'more' AS INSERT INTO target BY NAME SELECT * FROM STREAM(old)",
            False,
        ),
    ],
)
def test_insert_flows(text: str, once: bool) -> None:
    record = one(text)
    assert isinstance(record, CreateFlow)
    assert (record.name, record.target, record.once) == ("backfill", "target", once)
    assert record.query.text.startswith("SELECT * FROM")


def test_auto_cdc_flow_with_every_clause() -> None:
    record = one(
        """CREATE FLOW customers_cdc AS AUTO CDC INTO customers
           FROM STREAM(customer_changes)
           KEYS (customer_id, region)
           IGNORE NULL UPDATES
           APPLY AS DELETE WHEN operation = 'DELETE'
           APPLY AS TRUNCATE WHEN operation = 'TRUNCATE'
           SEQUENCE BY struct(ts, seq)
           COLUMNS * EXCEPT (operation, _rescued_data)
           STORED AS SCD TYPE 2
           TRACK HISTORY ON * EXCEPT (updated_at)"""
    )
    assert isinstance(record, ChangeFlow)
    assert (record.name, record.target, record.source) == ("customers_cdc", "customers", "customer_changes")
    assert record.keys == ("customer_id", "region") and record.ignore_null_updates
    assert (record.delete_when, record.truncate_when) == ("operation = 'DELETE'", "operation = 'TRUNCATE'")
    assert record.sequence_by == "struct(ts, seq)"
    assert (record.columns, record.except_columns) == (None, ("operation", "_rescued_data"))
    assert record.scd_type == 2 and record.track_history_except == ("updated_at",) and not record.once


def test_apply_changes_into_legacy_form_and_once() -> None:
    record = one(
        "APPLY CHANGES INTO LIVE.dim FROM STREAM LIVE.changes KEYS (id) WHERE id > 0 SEQUENCE BY seq "
        "COLUMNS id, name STORED AS SCD TYPE 1"
    )
    assert isinstance(record, ChangeFlow)
    assert (record.name, record.target, record.source, record.where) == (
        "LIVE.dim",
        "LIVE.dim",
        "LIVE.changes",
        "id > 0",
    )
    assert record.columns == ("id", "name") and record.scd_type == 1
    once = one("CREATE FLOW f AS AUTO CDC ONCE INTO dim FROM snapshot_rows KEYS (id) SEQUENCE BY seq")
    assert isinstance(once, ChangeFlow) and once.once


@pytest.mark.parametrize(
    "text",
    [
        "APPLY CHANGES INTO dim FROM src SEQUENCE BY seq",  # no KEYS
        "APPLY CHANGES INTO dim FROM src KEYS (id)",  # no SEQUENCE BY
        "APPLY CHANGES INTO dim FROM src KEYS (id) SEQUENCE BY s STORED AS SCD TYPE 3",
        "APPLY CHANGES INTO dim FROM src KEYS (id) SEQUENCE BY s TRACK HISTORY ON a",  # SCD1 + history
        "APPLY CHANGES INTO dim FROM src KEYS (id) SEQUENCE BY s KEYS (x)",
    ],
)
def test_malformed_cdc_is_a_syntax_error(text: str) -> None:
    with pytest.raises(SqlSyntaxError):
        one(text)


# --- SET and USE -----------------------------------------------------------------------------------


def test_set_and_use() -> None:
    records = parse_file(
        "SET spark.sql.shuffle.partitions = 4;\nSET pipelines.trigger.interval = '1 hour';\nSET a.b;\n"
        "USE CATALOG main;\nUSE SCHEMA sales;",
        "p.sql",
        {},
    )
    assert records == [
        SetConf("spark.sql.shuffle.partitions", "4"),
        SetConf("pipelines.trigger.interval", "1 hour"),
        SetConf("a.b", None),
        Use("catalog", "main"),
        Use("schema", "sales"),
    ]
