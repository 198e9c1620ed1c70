"""Databricks SQL spellings rewritten for open-source Spark, without a JVM."""

from __future__ import annotations

import pytest

from harness.errors import QuerySyntaxError, SqlQueryError
from harness.query import rewrite_event_log_calls, rewrite_json_paths, sql_error
from harness.query.event_log_tvf import EventLogReference

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("databricks", "local"),
    [
        (
            "SELECT details:flow_progress.metrics.num_output_rows FROM event_log",
            "SELECT get_json_object(details, '$.flow_progress.metrics.num_output_rows') FROM event_log",
        ),
        (  # ':' between levels, a cast, a qualified column
            "SELECT e.details:flow_progress:data_quality:dropped_records::bigint FROM event_log e",
            "SELECT get_json_object(e.details, '$.flow_progress.data_quality.dropped_records')::bigint FROM event_log e",
        ),
        (  # array index, wildcard, quoted names
            "SELECT details:a[0].b, details:a[*], details:['x y'], `details`:`p q` FROM t",
            "SELECT get_json_object(details, '$.a[0].b'), get_json_object(details, '$.a[*]'), "
            "get_json_object(details, '$[\\'x y\\']'), get_json_object(`details`, '$[\\'p q\\']') FROM t",
        ),
    ],
)
def test_json_paths_on_strings_become_get_json_object(databricks: str, local: str) -> None:
    assert rewrite_json_paths(databricks) == local


@pytest.mark.parametrize(
    "untouched",
    [
        "SELECT CAST(x AS STRUCT<a:INT, b:ARRAY<STRUCT<c:STRING>>>) FROM t",
        "SELECT y::int, 'details:a.b', \"k:v\" FROM t -- details:x",
        "SELECT * FROM t WHERE id = :param /* a:b */",
        "SELECT map('a', 1)['a'] FROM t",
    ],
)
def test_colons_that_are_not_json_paths_are_left_alone(untouched: str) -> None:
    assert rewrite_json_paths(untouched) == untouched


def test_event_log_calls_become_the_view_the_caller_chooses() -> None:
    seen: list[EventLogReference] = []

    def view(reference: EventLogReference) -> str:
        seen.append(reference)
        return "event_log"

    query = "SELECT * FROM event_log('abc-123') a JOIN event_log(TABLE(main.sales.orders)) b USING (id)"
    assert rewrite_event_log_calls(query, view) == "SELECT * FROM event_log a JOIN event_log b USING (id)"
    assert seen == [EventLogReference(pipeline_id="abc-123"), EventLogReference(table="main.sales.orders")]
    assert rewrite_event_log_calls("SELECT 'event_log(1)' FROM event_log", view) == (
        "SELECT 'event_log(1)' FROM event_log"
    )
    with pytest.raises(QuerySyntaxError):
        rewrite_event_log_calls("SELECT * FROM event_log(42)", view)


class _FakeContext:
    def startIndex(self) -> int:
        return 7


class _FakeSparkError(Exception):
    def getCondition(self) -> str:
        return "UNRESOLVED_COLUMN.WITH_SUGGESTION"

    def getQueryContext(self) -> list[_FakeContext]:
        return [_FakeContext()]


def test_a_spark_error_keeps_its_class_first_line_and_position() -> None:
    exc = _FakeSparkError(
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `nme` cannot be resolved.\n" + "\tat x\n" * 270
    )
    error = sql_error(exc, "SELECT nme FROM t")
    assert isinstance(error, SqlQueryError)
    assert (error.error_class, error.position) == ("UNRESOLVED_COLUMN.WITH_SUGGESTION", 7)
    assert "\n" not in str(error)
    assert str(error).endswith("(at position 7: 'nme FROM t')")
