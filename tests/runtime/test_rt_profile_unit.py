"""Issue 15, point 1 (unit tier): the update profile's scopes, timers and table, no JVM."""

from __future__ import annotations

import threading
from contextvars import copy_context

import pytest

from harness.runtime.profile import UpdateProfile, format_profile, timed

pytestmark = pytest.mark.unit


class _NoSpark:
    """A session without a SparkContext (as over Spark Connect): the profile keeps wall time only."""

    @property
    def sparkContext(self) -> None:
        raise RuntimeError("no SparkContext")


def test_timers_go_to_the_scope_of_the_calling_context() -> None:
    profile = UpdateProfile(_NoSpark(), "u-1")
    with profile.phase("plan"):
        with timed("delta_log"):
            pass
        with timed("delta_log"):
            pass
    with timed("metastore"):  # outside any scope of this profile and no profile given: not recorded
        pass
    data = profile.finish()
    plan = next(s for s in data["scopes"] if s["name"] == "plan")
    assert plan["kind"] == "phase" and plan["calls"] == {"delta_log": 2}
    assert "metastore" not in data["ms"]


def test_flow_scopes_follow_their_thread_context_and_background_writes_are_their_own_scope() -> None:
    profile = UpdateProfile(_NoSpark(), "u-2")

    def flow(name: str) -> None:
        with profile.flow(name), timed("observation"):
            pass

    threads = [threading.Thread(target=copy_context().run, args=(flow, n)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with timed("event_log_write", profile, "background:event_log"):
        pass
    data = profile.finish()
    by_name = {s["name"]: s for s in data["scopes"]}
    assert by_name["a"]["calls"] == {"observation": 1} and by_name["a"]["kind"] == "flow"
    assert by_name["b"]["calls"] == {"observation": 1}
    assert by_name["event_log"]["kind"] == "background"
    assert by_name["event_log"]["calls"] == {"event_log_write": 1}
    assert set(data["ms"]) == {"observation", "event_log_write"}


def test_the_table_lists_phases_before_flows_and_ends_with_the_total() -> None:
    profile = UpdateProfile(_NoSpark(), "u-3")
    with profile.flow("gold"):
        pass
    with profile.phase("analyse"):
        pass
    lines = format_profile(profile.finish()).splitlines()
    assert lines[1].startswith("phase analyse") and lines[2].startswith("flow gold")
    assert lines[-1].startswith("total (update)")
