"""`harness watch` logic without Spark: batch completeness, one update per arrival, restart, stop.

Batches are real simulator output (pure Python); the update is a recording callable, standing in
for `LocalPipeline.run` (the reconciliation test drives the watcher with the real pipeline).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.errors import WatchError
from harness.watch import WatchLoop, check_batch, complete_batches, pending_batches
from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Result:
    update_id: str
    status: str = "COMPLETED"
    error: str | None = None


class Updates:
    """Counts calls; optionally drops the next batch while an "update" runs (an arrival mid-update)."""

    def __init__(self, during: list[Simulator] | None = None) -> None:
        self.calls = 0
        self.during = during or []

    def __call__(self) -> Result:
        self.calls += 1
        if self.during:
            self.during.pop().next_batch()
        return Result(f"u{self.calls}")


def simulator(out: Path) -> Simulator:
    config = SimulatorConfig(seed=3, orders_per_batch=20, customers=200, profile="clean")
    return Simulator(config, out)


def test_a_batch_is_complete_only_with_its_manifest_and_every_file_at_its_size(tmp_path: Path) -> None:
    sim = simulator(tmp_path)
    result = sim.next_batch()
    check = check_batch(tmp_path, result.manifest_path)
    assert check.complete and check.batch_id == 1
    order_file = next((tmp_path / "landing" / "orders").glob("orders_b00001_*.json"))
    content = order_file.read_bytes()
    order_file.write_bytes(content[:-10])  # still being written
    check = check_batch(tmp_path, result.manifest_path)
    assert not check.complete and check.wrong_size and str(order_file) in check.wrong_size[0]
    order_file.unlink()
    assert check_batch(tmp_path, result.manifest_path).missing == (str(order_file),)
    assert pending_batches(tmp_path, set()) == []
    order_file.write_bytes(content)
    assert pending_batches(tmp_path, set()) == [1]
    assert pending_batches(tmp_path, {1}) == []


def test_files_without_a_manifest_are_not_a_batch(tmp_path: Path) -> None:
    simulator(tmp_path).next_batch()
    (tmp_path / "manifests" / "manifest_b00001.json").unlink()
    assert complete_batches(tmp_path) == []


def test_one_update_per_arrival_and_restart_remembers_handled_batches(tmp_path: Path) -> None:
    sim = simulator(tmp_path / "landing_root")
    root = tmp_path / "landing_root"
    state = tmp_path / "state" / "watch.json"
    sim.next_batch()
    sim.next_batch()
    updates = Updates()
    events: list[str] = []
    summary = WatchLoop(root, updates, state, once=True, on_event=events.append).run()
    assert updates.calls == 1  # two complete batches waiting -> one update, as a file-arrival trigger
    assert summary.updates[0]["batches"] == [1, 2] and summary.stopped_by == "once"
    summary = WatchLoop(root, updates, state, once=True, on_event=events.append).run()
    assert updates.calls == 1 and summary.updates == []  # restarted: nothing new
    sim.next_batch()
    summary = WatchLoop(root, updates, state, once=True, on_event=events.append).run()
    assert updates.calls == 2 and summary.updates[0]["batches"] == [3]


def test_max_updates_counts_arrivals_during_updates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    sim = simulator(root)
    sim.next_batch()
    updates = Updates(during=[sim])  # batch 2 lands while the first update runs
    summary = WatchLoop(
        root, updates, tmp_path / "w.json", poll_seconds=0.01, max_updates=2, on_event=lambda m: None
    ).run()
    assert [u["batches"] for u in summary.updates] == [[1], [2]]
    assert summary.stopped_by == "max_updates"


def test_stop_ends_the_loop_between_updates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    loop = WatchLoop(root, Updates(), tmp_path / "w.json", poll_seconds=0.05, on_event=lambda m: None)
    timer = threading.Timer(0.2, loop.stop)
    timer.start()
    summary = loop.run()
    assert summary.stopped_by == "stop" and summary.updates == []


def test_invalid_options_raise_watch_error(tmp_path: Path) -> None:
    with pytest.raises(WatchError) as info:
        WatchLoop(tmp_path, Updates(), tmp_path / "w.json", poll_seconds=0)
    assert info.value.path == str(tmp_path)
    bad_state = tmp_path / "w.json"
    bad_state.write_text("not json", encoding="utf-8")
    with pytest.raises(WatchError) as info:
        WatchLoop(tmp_path, Updates(), bad_state, once=True, on_event=lambda m: None).run()
    assert info.value.path == str(bad_state)


def test_ctrl_c_stops_between_updates_and_a_second_one_aborts(tmp_path: Path) -> None:
    import os
    import signal

    from harness.cli.watch_commands import stop_on_interrupt

    root = tmp_path / "root"
    sim = simulator(root)
    sim.next_batch()

    class InterruptedUpdate(Updates):
        def __call__(self) -> Result:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the update runs
            time.sleep(0.05)
            sim.next_batch()  # another batch lands: it must wait for the next watch session
            return super().__call__()

    updates = InterruptedUpdate()
    previous = signal.getsignal(signal.SIGINT)
    loop = WatchLoop(root, updates, tmp_path / "w.json", poll_seconds=0.01, on_event=lambda m: None)
    with stop_on_interrupt(loop):
        summary = loop.run()
        assert summary.stopped_by == "stop" and updates.calls == 1  # the update finished, no second one
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is previous  # the CLI's handler is removed again
