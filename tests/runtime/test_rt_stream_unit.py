"""The JVM-free parts of the streaming write path: counts from progress reports, events, crash arming."""

from __future__ import annotations

from typing import Any

import pytest

from harness.runtime.crashpoints import KILL_ENV, armed
from harness.runtime.delta_stream import MIN_RECENT_PROGRESS, keep_all_progress
from harness.runtime.expectations import AppliedExpectations
from harness.runtime.results import FlowResult
from harness.shim.records import Expectation, ExpectationAction

pytestmark = pytest.mark.unit

RULES = (
    Expectation("positive", "n > 0", ExpectationAction.DROP),
    Expectation("small", "n < 100", ExpectationAction.WARN),
)


def _observed(name: str) -> AppliedExpectations:
    """An AppliedExpectations as the streaming path builds it, without a DataFrame behind it."""
    applied = object.__new__(AppliedExpectations)
    applied.rules, applied.dataset, applied.streaming_name = RULES, "readings", name
    return applied


def test_batch_results_read_each_progress_that_reported_the_observation() -> None:
    name = "__harness_flow readings"
    progresses: list[Any] = [
        {
            "batchId": 0,
            "observedMetrics": {name: {"__rows": 4, "__failed_0": 2, "__failed_1": 1, "__dropped": 2}},
        },
        {"batchId": 1, "observedMetrics": {"view_x_1": {"__rows": 9}}},  # another observation only
        {"batchId": 2, "observedMetrics": {}},  # a replay Delta skipped: nothing reported
        {
            "batchId": 3,
            "observedMetrics": {name: {"__rows": 1, "__failed_0": 0, "__failed_1": 0, "__dropped": 0}},
        },
    ]
    batches = _observed(name).batch_results(progresses)
    assert [(b.input_rows, b.failed, b.dropped) for b in batches] == [(4, (2, 1), 2), (1, (0, 0), 0)]
    total = batches[0].plus(batches[1])
    assert total.data_quality()["expectations"][0] == {
        "name": "positive",
        "dataset": "readings",
        "passed_records": 3,
        "failed_records": 2,
    }


def test_stream_details_name_the_output_mode_only_for_streaming_flows() -> None:
    assert FlowResult("mv", "mv").stream_details() == {}
    result = FlowResult("agg", "agg", output_mode="complete", output_mode_reason="why")
    assert result.stream_details() == {"output_mode": "COMPLETE", "output_mode_reason": "why"}


def test_crash_points_are_armed_only_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KILL_ENV, raising=False)
    assert not armed("after_append:t")
    monkeypatch.setenv(KILL_ENV, "after_append:t@2")
    assert armed("after_append:t") and not armed("after_append:u")


class _Conf:
    def __init__(self, value: str | None) -> None:
        self.values = {} if value is None else {"spark.sql.streaming.numRecentProgressUpdates": value}

    def get(self, key: str, default: str) -> str:
        return self.values.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


@pytest.mark.parametrize(
    ("before", "after"),
    [(None, str(MIN_RECENT_PROGRESS)), ("50", str(MIN_RECENT_PROGRESS)), ("20000", "20000")],
)
def test_queries_keep_every_progress_of_an_update(before: str | None, after: str) -> None:
    spark = type("S", (), {"conf": _Conf(before)})()
    keep_all_progress(spark)
    assert spark.conf.values["spark.sql.streaming.numRecentProgressUpdates"] == after
