"""Issue 15, point 7 (unit tier): the flow scheduler decides what starts and what is skipped, no JVM."""

from __future__ import annotations

import pytest

from harness.runtime.scheduler import FlowScheduler, default_max_concurrent_flows

pytestmark = pytest.mark.unit

# bronze -> silver -> gold; bronze -> audit; other is independent
UPSTREAM = {
    "bronze": set(),
    "silver": {"bronze"},
    "gold": {"bronze", "silver"},
    "audit": {"bronze"},
    "other": set(),
}
ORDER = ["bronze", "other", "silver", "audit", "gold"]


def test_flows_start_when_their_upstream_is_done_up_to_the_limit() -> None:
    scheduler = FlowScheduler(ORDER, UPSTREAM, max_concurrent=1)
    assert scheduler.step() == (["bronze"], [])
    assert scheduler.step() == ([], [])  # the limit is reached: "other" waits
    scheduler.finish("bronze", failed=False)
    assert scheduler.step() == (["other"], [])
    scheduler.finish("other", failed=False)
    assert scheduler.step() == (["silver"], [])


def test_independent_flows_run_concurrently_in_execution_order() -> None:
    scheduler = FlowScheduler(ORDER, UPSTREAM, max_concurrent=3)
    assert scheduler.step() == (["bronze", "other"], [])
    scheduler.finish("bronze", failed=False)
    assert scheduler.step() == (["silver", "audit"], [])  # with "other" still running: 3 at once
    assert scheduler.running == {"other", "silver", "audit"}


def test_a_failed_flow_skips_everything_downstream_and_the_rest_finishes() -> None:
    scheduler = FlowScheduler(ORDER, UPSTREAM, max_concurrent=3)
    scheduler.step()
    scheduler.finish("bronze", failed=False)
    assert scheduler.step() == (["silver", "audit"], [])
    scheduler.finish("silver", failed=True)
    assert scheduler.step() == ([], ["gold"])
    scheduler.finish("other", failed=False)
    scheduler.finish("audit", failed=False)
    assert scheduler.idle and scheduler.failed == {"silver", "gold"}


def test_flows_that_do_not_run_count_as_done_for_their_downstream() -> None:
    scheduler = FlowScheduler(["gold"], UPSTREAM, done={"bronze", "silver"}, max_concurrent=2)
    assert scheduler.step() == (["gold"], [])
    scheduler.finish("gold", failed=False)
    assert scheduler.idle


def test_default_concurrency_follows_the_cores_unless_the_environment_says(monkeypatch) -> None:
    monkeypatch.delenv("HARNESS_MAX_CONCURRENT_FLOWS", raising=False)
    assert default_max_concurrent_flows(4) == 4 and default_max_concurrent_flows(1) == 2
    monkeypatch.setenv("HARNESS_MAX_CONCURRENT_FLOWS", "5")
    assert default_max_concurrent_flows(2) == 5
