"""Issue 18 without a JVM: the Delta reader, the page's views, masking, rendering and the server's defences.

The event logs here are written in Delta's on-disk format by tests/ui/ui_synthetic.py; the Spark
tests (test_ui_browser.py, test_ui_reader_spark.py) hold the same code against logs Delta wrote.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ui_synthetic import T0, A, B, EventLogWriter, completed_flow, start_update, two_updates

from harness.errors import (
    GraphvizNotFoundError,
    OutsideStateDirError,
    UnknownPipelineError,
    UnsupportedDeltaTableError,
)
from harness.state import StateLayout
from harness.ui import Page, PageServer, StateData, render
from harness.ui.data import inside
from harness.ui.delta_reader import DeltaTableReader
from harness.ui.model import GraphNode, GraphView
from harness.ui.redact import REDACTED, Redactor, is_secret_key

pytestmark = pytest.mark.unit

SECRET = "hunter2-secret"


@pytest.fixture
def state(tmp_path: Path) -> StateLayout:
    layout = StateLayout.at(tmp_path / "state")
    two_updates(EventLogWriter(layout.event_log_dir("synthetic")), secret=SECRET)
    return layout


def _data(layout: StateLayout) -> StateData:
    return StateData(layout, clock=lambda: T0 + timedelta(seconds=200))


# --- the Delta reader ---------------------------------------------------------------------------


def test_reader_replays_adds_removes_and_checkpoints(tmp_path: Path) -> None:
    writer = EventLogWriter(tmp_path / "events")
    two_updates(writer)
    reader = DeltaTableReader(tmp_path / "events")
    version, rows = reader.rows()
    assert version == 2 and len(rows) == writer.seq
    writer.compact()  # removes every earlier file: counting them again would double every event
    writer.checkpoint()
    start_update(writer, "cccccccc", 300, full=False, secret="x")
    writer.commit()
    version, rows = reader.rows()
    assert version == 4
    assert sorted(r["sequence"]["data_plane_id"]["seq_no"] for r in rows) == list(range(1, writer.seq + 1))
    fresh = DeltaTableReader(tmp_path / "events")  # starts from the checkpoint, not from version 0
    (tmp_path / "events" / "_delta_log" / f"{0:020d}.json").unlink()
    assert sorted(r["sequence"]["data_plane_id"]["seq_no"] for r in fresh.rows()[1]) == list(
        range(1, writer.seq + 1)
    )


def test_reader_skips_a_checkpoint_still_being_written(tmp_path: Path) -> None:
    writer = EventLogWriter(tmp_path / "events")
    two_updates(writer)
    writer.checkpoint()
    start_update(writer, "cccccccc", 300, full=False, secret="x")
    writer.commit()
    (writer.log / f"{writer.version:020d}.checkpoint.parquet").write_bytes(b"PAR1 half-written")
    version, rows = DeltaTableReader(tmp_path / "events").rows()
    assert version == writer.version and len(rows) == writer.seq


def test_reader_refuses_features_it_does_not_implement(tmp_path: Path) -> None:
    writer = EventLogWriter(tmp_path / "events")
    writer.commit()
    (writer.log / f"{1:020d}.json").write_text(
        json.dumps(
            {
                "protocol": {
                    "minReaderVersion": 3,
                    "minWriterVersion": 7,
                    "readerFeatures": ["deletionVectors"],
                }
            }
        )
    )
    with pytest.raises(UnsupportedDeltaTableError) as caught:
        DeltaTableReader(tmp_path / "events").rows()
    assert "deletionVectors" in caught.value.feature


def test_absent_table_reads_as_empty(tmp_path: Path) -> None:
    assert DeltaTableReader(tmp_path / "nothing").rows() == (-1, [])


# --- views ------------------------------------------------------------------------------------------


def test_updates_newest_first_with_phases_refresh_and_error(state: StateLayout) -> None:
    overview = _data(state).pipeline("synthetic").overview()
    updates = overview["updates"]
    assert [u["update_id"] for u in updates] == [B, A]
    assert [u["state"] for u in updates] == ["FAILED", "COMPLETED"]
    assert [u["refresh"] for u in updates] == ["incremental", "full refresh"]
    assert updates[1]["duration_s"] == 12.0
    assert [(p["state"], p["seconds"]) for p in updates[1]["phases"]] == [
        ("QUEUED", 0.5),
        ("INITIALIZING", 0.5),
        ("SETTING_UP_TABLES", 4.0),
        ("RUNNING", 7.0),
    ]
    assert "ExpectationViolationError" in updates[0]["error"]


def test_graph_nodes_carry_status_rows_drops_and_pass_rate(state: StateLayout) -> None:
    graph = _data(state).pipeline("synthetic").overview()["graph"]
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert graph["edges"] == [["bronze", "silver"], ["silver", "gold"]]
    assert graph["defined_in"] == B
    assert (nodes["bronze"]["status"], nodes["bronze"]["rows"]) == ("COMPLETED", 4)
    assert nodes["silver"]["status"] == "FAILED" and "bad row" in nodes["silver"]["error"]
    assert nodes["gold"]["status"] == "SKIPPED"
    assert nodes["silver"]["svg_id"] == "n_silver"


def test_flow_history_across_updates(state: StateLayout) -> None:
    runs = _data(state).pipeline("synthetic").flow("silver")["runs"]
    assert [(r["update_id"], r["status"]) for r in runs] == [(A, "COMPLETED"), (B, "FAILED")]
    assert runs[0]["rows"] == 8 and runs[0]["dropped"] == 2 and runs[0]["files_read"] == 2
    assert runs[0]["duration_s"] == 1.5
    assert runs[0]["expectations"] == [{"name": "valid_id", "dataset": "silver", "passed": 8, "failed": 2}]


def test_event_filters(state: StateLayout) -> None:
    pipeline = _data(state).pipeline("synthetic")
    errors = pipeline.events(level="ERROR")
    assert errors["total"] == 2 and {e["event_type"] for e in errors["events"]} == {
        "flow_progress",
        "update_progress",
    }
    assert pipeline.events(flow="gold", update=A)["total"] == 3  # its definition and two progress events
    flow = pipeline.events(flow="gold", update=A, event_type="flow_progress")
    assert [e["details"]["status"] for e in flow["events"]] == ["COMPLETED", "RUNNING"]  # newest first
    assert pipeline.events(event_type="create_update")["total"] == 2
    assert pipeline.events()["choices"]["update"] == [B, A]


def test_a_running_update_is_live(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path)
    writer = EventLogWriter(layout.event_log_dir("synthetic"))
    start_update(writer, A, 0, full=False, secret="x")
    writer.commit()
    pipeline = _data(layout).pipeline("synthetic")
    before = pipeline.overview()
    assert before["updates"][0]["running"] and before["updates"][0]["state"] == "RUNNING"
    assert before["updates"][0]["duration_s"] == 200.0  # measured against the clock while it runs
    completed_flow(writer, A, 6, "bronze", 10)
    writer.commit()
    after = pipeline.overview()
    assert after["version"] == before["version"] + 1
    assert {n["name"]: n["status"] for n in after["graph"]["nodes"]}["bronze"] == "COMPLETED"


# --- secrets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["db.password", "spark.hadoop.fs.s3a.secret.key", "api_token", "export.pwd", "auth.header"]
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["region", "ui.landing", "pipelines.name", "author"])
def test_plain_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_redactor_masks_and_scrubs() -> None:
    redactor = Redactor(known_secrets=["dbutils-value-42"])
    redactor.learn({"db.password": "pa55word", "region": "eu"})
    assert redactor.mask_configuration({"db.password": "pa55word", "region": "eu"}) == {
        "db.password": REDACTED,
        "region": "eu",
    }
    assert redactor.redact({"m": ["login pa55word / dbutils-value-42"]}) == {
        "m": [f"login {REDACTED} / {REDACTED}"]
    }


def test_no_secret_in_any_view(state: StateLayout) -> None:
    pipeline = _data(state).pipeline("synthetic")
    texts = [pipeline.overview(), pipeline.flow("silver"), pipeline.events()]
    dumped = json.dumps(texts)
    assert SECRET not in dumped
    assert pipeline.overview()["updates"][0]["configuration"] == {"db.password": REDACTED, "region": "eu"}
    assert REDACTED in pipeline.flow("silver")["runs"][1]["error"]


# --- paths --------------------------------------------------------------------------------------


def test_paths_outside_the_state_dir_are_refused(state: StateLayout) -> None:
    data = _data(state)
    with pytest.raises(OutsideStateDirError):
        data.pipeline("../../etc")
    with pytest.raises(OutsideStateDirError):
        inside(state.root, state.root / ".." / "x")
    with pytest.raises(UnknownPipelineError) as caught:
        data.default_pipeline("other")
    assert caught.value.known == ["synthetic"]


# --- rendering ----------------------------------------------------------------------------------------


def _wide_graph(n: int = 50) -> GraphView:
    names = [f"dataset_{i:02d}" for i in range(n)]
    nodes = {
        name: GraphNode(name, "STREAMING_TABLE", [name], "COMPLETED", rows=i * 10)
        for i, name in enumerate(names)
    }
    nodes[names[n // 7]].status, nodes[names[n // 7]].error = "FAILED", "Boom: bad"
    edges = [(names[i], names[j]) for i in range(n) for j in (2 * i + 1, 2 * i + 2) if j < n]
    return GraphView(nodes, edges, "u")


def test_fifty_nodes_lay_out_readably() -> None:
    svg = render.layout(_wide_graph(), "svg").decode()
    assert svg.count('class="node"') == 50 and svg.count('class="edge"') == 49
    width, height = (float(v) for v in svg.split('viewBox="')[1].split('"')[0].split()[2:])
    # at full size every label keeps its 11pt font; the band stays a few screens wide at most
    assert width < 2200 and height < 2200, (width, height)
    assert 'id="n_dataset_07"' in svg and "Boom: bad" in svg


def test_png_and_mermaid_export() -> None:
    assert render.render(_wide_graph(5), "png")[:8] == b"\x89PNG\r\n\x1a\n"
    mermaid = render.render(_wide_graph(5), "mermaid").decode()
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == 4


def test_missing_dot_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizNotFoundError) as caught:
        render.layout(_wide_graph(3), "svg")
    assert "apt-get install graphviz" in str(caught.value)


# --- the server ---------------------------------------------------------------------------------------


@pytest.fixture
def server(state: StateLayout) -> Any:
    page_server = PageServer(_data(state), Page("synthetic"))
    page_server.start_background()
    yield page_server
    page_server.shutdown()
    page_server.server_close()


def _get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_server_binds_loopback_only(server: PageServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    status, body = _get(server.url + "api/overview")
    assert status == 200 and json.loads(body)["pipeline"] == "synthetic"


def test_server_refuses_traversal_writes_and_foreign_hosts(server: PageServer) -> None:
    assert _get(server.url + "api/overview?pipeline=../../../etc")[0] == 403
    assert _get(server.url + "api/overview?pipeline=..%2F..%2Fetc")[0] == 403
    assert _get(server.url + "assets/../../../../etc/passwd")[0] == 404
    assert _get(server.url + "assets/%2e%2e/%2e%2e/state.py")[0] == 404
    assert _get(server.url, Host="attacker.example:80")[0] == 403
    request = urllib.request.Request(server.url + "api/overview", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405


def test_server_sends_a_same_origin_policy(server: PageServer) -> None:
    with urllib.request.urlopen(server.url, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy


# --- the commands and the report's picture -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("mermaid", b"flowchart LR")]
)
def test_graph_command_writes_each_format(state: StateLayout, tmp_path: Path, fmt: str, magic: bytes) -> None:
    from harness.cli.main import main

    output = tmp_path / f"graph.{fmt}"
    assert main(["graph", "--state", str(state.root), "--format", fmt, "--output", str(output)]) == 0
    assert output.read_bytes().startswith(magic)
    assert b"silver" in output.read_bytes() or fmt == "png"


def test_graph_command_default_output_stays_in_the_state_dir(state: StateLayout) -> None:
    from harness.cli.main import main

    assert main(["graph", "--state", str(state.root)]) == 0
    assert (state.reports_dir / "synthetic_graph.svg").is_file()


def test_ui_command_without_dot_says_how_to_install(
    state: StateLayout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["ui", "--state", str(state.root), "--port", "0"]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_report_chart_is_the_graph_or_the_reason(
    state: StateLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.ui.export import graph_chart

    title, path = graph_chart(state, "synthetic", tmp_path)
    assert path == tmp_path / "pipeline_graph.svg" and 'id="n_silver"' in path.read_text()
    monkeypatch.setenv("PATH", "/nonexistent")
    title, path = graph_chart(state, "synthetic", tmp_path)
    assert path == Path() and "Graphviz" in title


def test_ui_command_on_a_busy_port_says_so(
    state: StateLayout, server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    assert main(["ui", "--state", str(state.root), "--port", str(server.server_address[1])]) == 1
    assert "Pass another --port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"full_refresh": True}, "full refresh"),
        ({"full_refresh_selection": ["a", "b"]}, "full refresh selection: a, b"),
        ({"refresh_selection": ["gold"]}, "refresh selection: gold"),
        ({}, "incremental"),
    ],
)
def test_refresh_kind_in_databricks_words(details: dict[str, Any], expected: str) -> None:
    from harness.ui.model import refresh_kind

    assert refresh_kind(details) == expected
