"""Issue 14 point 1: the reads of a SQL body (datasets, STREAM, read_files, cloud_files) and refusals, no JVM."""

from __future__ import annotations

import pytest

from harness.errors import SqlSyntaxError, SqlUnsupportedError
from harness.sql.register import FileState, schema_ddl
from harness.sql.rewrite import METADATA, PLACEHOLDER, DatasetRead, FileRead, rewrite_body
from harness.sql.statements import Body, Column

pytestmark = pytest.mark.unit


def rewrite(text: str):  # type: ignore[no-untyped-def]
    return rewrite_body(Body(text, 10), "p.sql")


def p(index: int) -> str:
    return PLACEHOLDER.format(index=index)


def test_plain_qualified_and_live_names_are_batch_reads_aliased_by_their_name() -> None:
    template = rewrite("SELECT a.x, orders.y FROM LIVE.a JOIN main.sales.orders ON a.id = orders.id")
    assert template.sources == (DatasetRead("LIVE.a", False), DatasetRead("main.sales.orders", False))
    assert template.text == f"SELECT a.x, orders.y FROM {p(0)} AS a JOIN {p(1)} AS orders ON a.id = orders.id"


def test_an_existing_alias_is_kept() -> None:
    template = rewrite("SELECT o.x FROM orders AS o, customers c WHERE o.id = c.id")
    assert template.sources == (DatasetRead("orders", False), DatasetRead("customers", False))
    assert template.text == f"SELECT o.x FROM {p(0)} AS o, {p(1)} c WHERE o.id = c.id"


@pytest.mark.parametrize(
    "relation",
    ["STREAM(orders)", "STREAM (orders)", "STREAM orders", "stream(LIVE.orders)", "STREAM `orders`"],
)
def test_stream_forms_are_streaming_reads(relation: str) -> None:
    template = rewrite(f"SELECT * FROM {relation} WHERE id > 0")
    assert len(template.sources) == 1 and template.sources[0].streaming
    assert template.sources[0].name.strip("`").split(".")[-1] == "orders"
    assert template.text.startswith(f"SELECT * FROM {p(0)} AS ")


def test_subqueries_joins_and_ctes() -> None:
    template = rewrite(
        "WITH recent AS (SELECT * FROM events WHERE ts > now() - INTERVAL 1 DAY), big (id) AS (SELECT id FROM orders)\n"
        "SELECT * FROM recent r LEFT JOIN (SELECT * FROM STREAM(clicks)) c ON r.id = c.id\n"
        "WHERE r.id IN (SELECT id FROM big) AND EXISTS (SELECT 1 FROM refunds f WHERE f.id = r.id)"
    )
    assert template.ctes == {"recent", "big"}
    assert template.sources == (
        DatasetRead("events", False),
        DatasetRead("orders", False),
        DatasetRead("clicks", True),
        DatasetRead("refunds", False),
    )
    assert "FROM recent r" in template.text and "FROM big)" in template.text


def test_from_inside_functions_strings_and_comments_is_not_a_relation() -> None:
    template = rewrite(
        "SELECT EXTRACT(YEAR FROM ts) AS y, trim(BOTH ' ' FROM name) AS n, 'FROM x' AS s, "
        "a IS DISTINCT FROM b AS d -- FROM y\nFROM t /* JOIN z */ LATERAL VIEW explode(items) e AS item"
    )
    assert template.sources == (DatasetRead("t", False),)


def test_values_and_table_functions_are_left_to_spark() -> None:
    template = rewrite("SELECT * FROM VALUES (1, 'a') AS v(id, x) UNION ALL SELECT id, 'b' FROM range(3)")
    assert template.sources == ()


def test_stream_read_files_is_auto_loader_with_cloud_files_options() -> None:
    template = rewrite(
        "SELECT *, _metadata.file_path FROM STREAM read_files('/Volumes/c/s/v/in', format => 'csv', header => true,"
        " inferColumnTypes => false, schemaHints => 'id BIGINT', `cloudFiles.maxFilesPerTrigger` => 5,"
        " multiLine => 'true', rescuedDataColumn => '_rescued')"
    )
    (source,) = template.sources
    assert source == FileRead(
        "read_files",
        "/Volumes/c/s/v/in",
        {
            "cloudFiles.format": "csv",
            "header": "true",
            "cloudFiles.inferColumnTypes": "false",
            "cloudFiles.schemaHints": "id BIGINT",
            "cloudFiles.maxFilesPerTrigger": "5",
            "multiLine": "true",
            "rescuedDataColumn": "_rescued",
        },
        True,
    )
    assert template.text == f"SELECT *, {METADATA}.file_path FROM {p(0)}"


def test_batch_read_files_infers_types_and_its_format_from_the_extension() -> None:
    (source,) = rewrite("SELECT * FROM read_files('/data/prices.csv', header => true) AS prices").sources
    assert isinstance(source, FileRead) and not source.streaming
    assert source.options == {
        "header": "true",
        "cloudFiles.format": "csv",
        "cloudFiles.inferColumnTypes": "true",
    }
    with pytest.raises(SqlSyntaxError):
        rewrite("SELECT * FROM read_files('/data/folder')")


def test_read_files_schema_option_is_the_schema() -> None:
    (source,) = rewrite(
        "SELECT * FROM STREAM(read_files('/in', format => 'json', schema => 'id INT, x STRING'))"
    ).sources
    assert isinstance(source, FileRead) and source.schema == "id INT, x STRING" and source.streaming
    assert "cloudFiles.inferColumnTypes" not in source.options


def test_legacy_cloud_files_is_a_stream_with_map_options() -> None:
    template = rewrite(
        "SELECT * FROM cloud_files('/in', 'json', map('cloudFiles.inferColumnTypes', 'true', 'multiLine', 'true'))"
    )
    assert template.sources == (
        FileRead(
            "cloud_files",
            "/in",
            {"cloudFiles.format": "json", "cloudFiles.inferColumnTypes": "true", "multiLine": "true"},
            True,
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM read_files('/in', 'json')",  # options must be named
        "SELECT * FROM cloud_files('/in')",  # no format
        "SELECT * FROM cloud_files('/in', 'json', map('a'))",  # odd map
        "SELECT * FROM STREAM(orders",
    ],
)
def test_malformed_file_reads_are_syntax_errors(text: str) -> None:
    with pytest.raises(SqlSyntaxError) as info:
        rewrite(text)
    assert info.value.path == "p.sql"


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("SELECT ai_query('model', review) FROM reviews", "function ai_query()"),
        ("SELECT AI_CLASSIFY(review, array('a', 'b')) FROM reviews", "function ai_classify()"),
        ("SELECT h3_longlatash3(lon, lat, 7) FROM places", "function h3_longlatash3()"),
        ("SELECT secret('scope', 'key') AS s", "function secret()"),
        ("SELECT * FROM read_kafka(bootstrapServers => 'b:9092', subscribe => 't')", "function read_kafka()"),
        ("SELECT * FROM sales PIVOT (sum(x) FOR y IN ('a', 'b'))", "PIVOT"),
    ],
)
def test_databricks_only_functions_are_refused_by_name(text: str, feature: str) -> None:
    with pytest.raises(SqlUnsupportedError) as info:
        rewrite("\n" + text)
    assert (info.value.feature, info.value.line) == (feature, 11)


def test_a_column_named_like_a_refused_function_is_fine() -> None:
    assert rewrite("SELECT ai_score, t.secret FROM t").sources == (DatasetRead("t", False),)


def test_use_schema_qualifies_unqualified_reads_only() -> None:
    state = FileState("p.sql", "main", "sales", catalog=None, schema="ref")
    assert state.qualify("rates") == "main.ref.rates"
    assert state.qualify("other.rates") == "main.other.rates"
    assert state.qualify("LIVE.rates") == "LIVE.rates"
    assert not state.is_default()
    assert FileState("p.sql", "main", "sales", catalog="main", schema="sales").is_default()


def test_schema_ddl_of_a_typed_column_list() -> None:
    columns = (Column("id", "BIGINT", True, "it's the id"), Column("x y", "DECIMAL(10, 2)"))
    assert schema_ddl(columns) == "`id` BIGINT NOT NULL COMMENT 'it\\'s the id', `x y` DECIMAL(10, 2)"
    assert schema_ddl((Column("a"), Column("b"))) is None


def test_metadata_of_a_file_source_is_renamed_for_the_binder() -> None:
    template = rewrite(
        "SELECT *, _metadata.file_path AS f FROM STREAM read_files('/in', format => 'json') WHERE 1 = 1"
    )
    assert template.uses_metadata
    assert template.text == f"SELECT *, {METADATA}.file_path AS f FROM {p(0)} WHERE 1 = 1"
    assert not rewrite("SELECT _metadata.file_path FROM t").uses_metadata  # a table's own column: untouched
