"""Issue 3, points 5 and 7 (unit tier): refresh planning and the expectation SQL builders, no JVM."""

from __future__ import annotations

import pytest

from harness.errors import RefreshSelectionError, TableNotResettableError
from harness.runtime.expectations import (
    ExpectationResult,
    fail_check_sql,
    keep_sql,
    observation_sql,
    parse_violation,
    passes_sql,
)
from harness.runtime.refresh import RefreshRequest, plan_refresh, reset_allowed
from harness.shim.records import Expectation, ExpectationAction

pytestmark = pytest.mark.unit

TABLES = ["bronze", "silver", "gold", "keep"]
STREAMING = ["bronze", "silver", "keep"]
RESETTABLE = {"bronze": True, "silver": True, "keep": False}


def test_default_update_refreshes_everything_and_resets_nothing() -> None:
    plan = plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest())
    assert plan.run == set(TABLES) and not plan.reset and not plan.not_resettable


def test_full_refresh_resets_streaming_tables_except_non_resettable() -> None:
    plan = plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest(full_refresh=True))
    assert plan.run == set(TABLES)
    assert plan.reset == {"bronze", "silver"}  # MVs are recomputed anyway; 'keep' is skipped
    assert plan.not_resettable == {"keep"}


def test_refresh_selection_runs_only_named_tables_without_reset() -> None:
    plan = plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest(refresh_selection=("Gold",)))
    assert plan.run == {"gold"} and not plan.reset


def test_full_refresh_selection_resets_only_named_tables() -> None:
    request = RefreshRequest(refresh_selection=("gold",), full_refresh_selection=("silver",))
    plan = plan_refresh(TABLES, STREAMING, RESETTABLE, request)
    assert plan.run == {"gold", "silver"} and plan.reset == {"silver"}


def test_selecting_a_non_resettable_table_for_full_refresh_fails() -> None:
    with pytest.raises(TableNotResettableError) as info:
        plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest(full_refresh_selection=("keep",)))
    assert info.value.table == "keep"


def test_unknown_or_conflicting_selection_fails() -> None:
    with pytest.raises(RefreshSelectionError) as info:
        plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest(refresh_selection=("nope", "gold")))
    assert info.value.names == ["nope"]
    with pytest.raises(RefreshSelectionError):
        plan_refresh(TABLES, STREAMING, RESETTABLE, RefreshRequest(True, ("gold",), ()))


@pytest.mark.parametrize(
    ("value", "allowed"), [("false", False), (" FALSE ", False), ("true", True), (None, True)]
)
def test_reset_allowed_property(value: str | None, allowed: bool) -> None:
    props = {} if value is None else {"pipelines.reset.allowed": value}
    assert reset_allowed(props) is allowed


WARN = Expectation("positive", "amount > 0", ExpectationAction.WARN)
DROP = Expectation("named", "name IS NOT NULL", ExpectationAction.DROP)
DROP2 = Expectation("small", "amount < 100", ExpectationAction.DROP)
FAIL = Expectation("id ok", "id < 5", ExpectationAction.FAIL)


def test_null_constraint_result_is_a_failure_unless_configured() -> None:
    assert passes_sql(WARN) == "coalesce((amount > 0), false)"
    assert passes_sql(WARN, null_passes=True) == "coalesce((amount > 0), true)"


def test_a_row_failing_any_drop_rule_is_dropped() -> None:
    assert keep_sql([DROP, DROP2]) == (
        "(coalesce((name IS NOT NULL), false)) AND (coalesce((amount < 100), false))"
    )


def test_observation_counts_rows_failures_per_rule_and_drops() -> None:
    metrics = dict(observation_sql([WARN, DROP]))
    assert metrics["__rows"] == "count(1)"
    assert metrics["__failed_0"] == "sum(CASE WHEN coalesce((amount > 0), false) THEN 0 ELSE 1 END)"
    assert "__dropped" in metrics


def test_fail_check_raises_a_parseable_violation() -> None:
    sql = fail_check_sql([FAIL], "silver")
    assert "raise_error" in sql and "coalesce((id < 5), false)" in sql
    text = '[USER_RAISED_EXCEPTION] HARNESS_EXPECTATION_VIOLATION|silver|id ok|{"id":7} SQLSTATE: P0001'
    error = parse_violation(text)
    assert error is not None
    assert (error.flow, error.expectation, error.record) == ("silver", "id ok", '{"id":7}')
    assert parse_violation("some other error") is None


def test_data_quality_shape_matches_databricks() -> None:
    result = ExpectationResult("silver", (WARN, DROP), input_rows=10, failed=(3, 2), dropped=2)
    assert result.data_quality() == {
        "dropped_records": 2,
        "expectations": [
            {"name": "positive", "dataset": "silver", "passed_records": 7, "failed_records": 3},
            {"name": "named", "dataset": "silver", "passed_records": 8, "failed_records": 2},
        ],
    }
    assert result.plus(result).data_quality()["dropped_records"] == 4
