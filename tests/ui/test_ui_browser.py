"""Issue 18: the pipeline page in a real browser (headless Chromium) over a real state directory.

The state holds two updates of a small pipeline (tests/ui/ui_state.py), the second FAILED because
silver's expect_or_fail saw a negative amount. Oracles come from the event log read through Spark
(`pipeline.event_log()`), never from the page's own reader. Screenshots are kept under pytest's
tmp dir; their paths are printed (`pytest -s` or the captured output of a failure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_browser import chromium, outbound_recorder, probe_results, request_host, run_chromium, screenshot
from ui_state import SECRET_VALUE

from harness.state import StateLayout
from harness.ui import Page, PageServer, StateData

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(chromium() is None, reason="chromium not installed (.ci/run installs it)"),
]

PROBE = (Path(__file__).parent / "probe.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def loaded(two_updates: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Serve the state, load the page once with the probe, once for a screenshot; record outbound traffic."""
    pipeline, _, state = two_updates
    work = tmp_path_factory.mktemp("ui-browser")
    data = StateData(StateLayout.at(state))
    server = PageServer(data, Page(pipeline.settings.name, extra_script=PROBE))
    server.start_background()
    try:
        with outbound_recorder() as recorder:
            run_chromium("about:blank", work / "profile-blank", recorder.server_address[1], "--dump-dom")
            browser_own = {request_host(line) for line in recorder.seen}
            recorder.seen.clear()
            dom = run_chromium(server.url, work / "profile-probe", recorder.server_address[1], "--dump-dom")
            server.page = Page(pipeline.settings.name)
            shot = screenshot(
                server.url,
                work / "pipeline_page_1280x800.png",
                work / "profile-shot",
                recorder.server_address[1],
            )
            outbound = list(recorder.seen)
    finally:
        server.shutdown()
        server.server_close()
    print(f"\nscreenshot of the pipeline page: {shot}")
    return {
        "probe": probe_results(dom),
        "outbound": outbound,
        "browser_own": browser_own,
        "requests": server.requests,
        "url": server.url,
    }


def _events(pipeline: Any) -> list[dict[str, Any]]:
    rows = pipeline.event_log().orderBy("sequence.data_plane_id.seq_no").collect()
    return [r.asDict(recursive=True) for r in rows]


def test_every_dataset_view_and_sink_is_a_node(loaded: dict[str, Any], two_updates: Any) -> None:
    pipeline, _, _ = two_updates
    defined = {
        json.loads(e["details"])["dataset_definition"]["dataset_name"]
        for e in _events(pipeline)
        if e["event_type"] == "dataset_definition"
    }
    nodes = loaded["probe"]["nodes"]
    assert len(nodes) == 5
    assert (
        {n["name"] for n in nodes}
        == defined
        == {"bronze_orders", "orders_typed", "silver_orders", "gold_by_country", "orders_export"}
    )
    assert {n["name"]: n["status"] for n in nodes} == {
        "bronze_orders": "COMPLETED",
        "orders_typed": "NOT_RUN",  # a view has no run of its own: its readers evaluate it
        "silver_orders": "FAILED",
        "gold_by_country": "SKIPPED",
        "orders_export": "SKIPPED",
    }


def test_the_failed_node_shows_its_error(loaded: dict[str, Any], two_updates: Any) -> None:
    _, results, _ = two_updates
    probe = loaded["probe"]
    assert probe["selected"] == "silver_orders"
    assert probe["node_error"] is not None
    assert "ExpectationViolationError" in probe["node_error"]
    assert "positive_amount" in probe["node_error"] and "positive_amount" in results[1].error
    assert "ExpectationViolationError" in probe["failed_hover"]  # the node's hover text


def test_the_updates_table_matches_the_event_log(loaded: dict[str, Any], two_updates: Any) -> None:
    pipeline, results, _ = two_updates
    events = _events(pipeline)
    terminal = {
        e["origin"]["update_id"]: json.loads(e["details"])["update_progress"]["state"]
        for e in events
        if e["event_type"] == "update_progress" and e["level"] != "WARN"
    }
    created = [e["origin"]["update_id"] for e in events if e["event_type"] == "create_update"]
    rows = loaded["probe"]["updates"]
    assert (
        [r["update_id"] for r in rows]
        == list(reversed(created))
        == [results[1].update_id, results[0].update_id]
    )
    for row in rows:
        update_id, _, duration, state, refresh, phases, _error = row["cells"]
        assert update_id == row["update_id"][:8]
        assert state == terminal[row["update_id"]].lower()
        assert refresh == "incremental"
        assert duration.endswith(" s") and "setting up tables" in phases and "running" in phases
    assert rows[0]["cells"][3] == "failed" and "silver_orders" in rows[0]["cells"][6]
    assert rows[1]["cells"][3] == "completed" and rows[1]["cells"][6] == ""


def test_the_event_table_lists_every_event(loaded: dict[str, Any], two_updates: Any) -> None:
    pipeline, _, _ = two_updates
    total = len(_events(pipeline))
    assert loaded["probe"]["events_rows"] == total
    assert loaded["probe"]["events_count"] == f"{total} of {total} event(s), newest first"


def test_no_request_leaves_loopback(loaded: dict[str, Any]) -> None:
    resources = loaded["probe"]["resources"]
    assert resources and all(url.startswith(loaded["url"]) for url in resources), resources
    assert all(path.startswith("/") for path in loaded["requests"])
    # what reached the recording proxy is Chromium's own background traffic, seen for about:blank too
    page_hosts = {request_host(line) for line in loaded["outbound"]}
    assert page_hosts <= loaded["browser_own"], loaded["outbound"]
    assert not page_hosts & {"127.0.0.1", "localhost"}


def test_the_page_keeps_polling_for_changes(loaded: dict[str, Any]) -> None:
    """Live refresh: after drawing, the page keeps asking for the event log's version."""
    polls = [p for p in loaded["requests"] if p.startswith("/api/version?")]
    assert len(polls) >= 2


def test_nothing_overflows_at_1280x800(loaded: dict[str, Any]) -> None:
    assert loaded["probe"]["viewport"][0] == 1280
    assert loaded["probe"]["overflow"] == []


def test_no_secret_reaches_the_page(loaded: dict[str, Any]) -> None:
    assert SECRET_VALUE not in loaded["probe"]["body_text"]
