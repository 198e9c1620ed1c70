"""Ctrl-C and SIGTERM on a process that started a local server leave no process behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from harness.postgres import provide_postgres
from harness.state import StateLayout

pytestmark = pytest.mark.postgres

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from harness.postgres import provide_postgres
    from harness.state import StateLayout

    with provide_postgres(StateLayout.at(sys.argv[1]), prefer="local") as info:
        record = json.loads((StateLayout.at(sys.argv[1]).postgres_dir / "server.json").read_text())
        print(json.dumps({"pid": record["pid"], "port": info.port}), flush=True)
        time.sleep(120)
    """
)


def start_child(state: StateLayout) -> tuple[subprocess.Popen[str], psutil.Process]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()  # type: ignore[union-attr]
    assert line, child.stderr.read()  # type: ignore[union-attr]
    return child, psutil.Process(json.loads(line)["pid"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_stops_the_server_and_keeps_the_signal_exit(
    sig: signal.Signals, fresh_state: StateLayout, assert_all_gone
) -> None:
    child, postmaster = start_child(fresh_state)
    processes = [postmaster, *postmaster.children(recursive=True)]
    assert len(processes) >= 4
    child.send_signal(sig)
    assert child.wait(60) == -sig  # died of the signal, as without our handler
    assert_all_gone(processes)
    assert not (fresh_state.postgres_dir / "server.json").exists()


def test_server_of_a_killed_process_is_reused_then_stopped(fresh_state: StateLayout, assert_all_gone) -> None:
    """SIGKILL cannot be caught: the next user adopts the orphan and, as last user, stops it."""
    child, postmaster = start_child(fresh_state)
    processes = [postmaster, *postmaster.children(recursive=True)]
    child.kill()
    child.wait(30)
    assert postmaster.is_running()
    with provide_postgres(fresh_state, prefer="local"):
        record = json.loads((fresh_state.postgres_dir / "server.json").read_text())
        assert record["pid"] == postmaster.pid  # reused, not restarted
    assert_all_gone(processes)


def test_two_processes_starting_at_once_share_one_server(fresh_state: StateLayout, assert_all_gone) -> None:
    """The state lock makes the second process wait and reuse the first one's server."""
    first = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(fresh_state.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(fresh_state.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids = {json.loads(child.stdout.readline())["pid"] for child in (first, second)}  # type: ignore[union-attr]
    assert len(pids) == 1
    postmaster = psutil.Process(pids.pop())
    processes = [postmaster, *postmaster.children(recursive=True)]
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == -signal.SIGTERM
    assert postmaster.is_running()  # the second process still uses it
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == -signal.SIGTERM
    assert_all_gone(processes)
