"""Crash-recovery trials: `harness run` in a subprocess, killed with SIGKILL, then run again and checked.

A trial drops one simulator batch, starts ``harness run pipeline/ --config <export enabled>`` in its
own process group, kills the whole group (Python and the Spark JVM) with SIGKILL — either when a
named crash point is reached (``HARNESS_TEST_KILL_AT``, see harness/runtime/crashpoints.py) or at a
seeded random time offset after the update started — then runs the same command again without a
kill and checks the state: the reconciliation with the manifest (bronze rows = lines produced,
silver + quarantine = bronze, gold = oracle), no duplicate order in silver, the event log closing
the killed update as FAILED, and every finished update exactly once in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runtime.crashpoints import KILL_ENV, KILL_MARKER

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
BUNDLE_TARGET = "dev"  # the pipeline as databricks.yml deploys it to dev
DEV_CONFIG = PIPELINE_ROOT / "configurations" / "dev_config.json"
PIPELINE_NAME = "retail_orders_dev"
DATABASE = "retail_dev__ecommerce"
LANDING = "/Volumes/retail_dev/ecommerce/raw/orders"
#: the line `harness run` prints (stderr) when the update starts; time offsets count from it
UPDATE_START = ": QUEUED"
RUN_TIMEOUT_S = 1800.0
#: (test id, markdown table) of every crash test that ran in this session (printed by conftest.py)
TRIAL_TABLES: list[tuple[str, str]] = []


@dataclass
class RunOutcome:
    """One `harness run` process: exit code, output, and when/where it was killed."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    update_started_after_s: float | None
    killed_by_test: bool = False
    killed_at_offset_s: float | None = None
    crash_point_hit: str | None = None
    phase_at_kill: str = ""

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def update_ids(self) -> list[str]:
        """8-character prefixes of the update ids this process printed (`update abcdef12: STATE`)."""
        ids: list[str] = []
        for line in self.stderr.splitlines():
            if "] update " in line and ": " in line:
                prefix = line.split("] update ", 1)[1].split(":", 1)[0]
                if prefix not in ids:
                    ids.append(prefix)
        return ids


def export_config(path: Path, schema: str) -> Path:
    """The dev environment config with ``export.enabled`` on into ``schema`` (DSN from HARNESS_PG_DSN)."""
    config = json.loads(DEV_CONFIG.read_text())
    config["export"]["enabled"] = True
    config["export"]["schema"] = schema
    path.write_text(json.dumps(config, indent=2))
    return path


def harness_env(dsn: str, kill_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_PG_", "PG"))}
    env["HARNESS_PG_DSN"] = dsn  # read first by the provider chain
    env["PYTHONHASHSEED"] = "0"
    env.pop(KILL_ENV, None)
    if kill_at:
        env[KILL_ENV] = kill_at
    return env


def _phase(stderr_lines: list[str], stdout_lines: list[str]) -> str:
    """Where the run was when it died, from its output: the metrics export once the update's summary
    is printed, else the last progress line (update state, or flow and status)."""
    if any(line.startswith("Update ") for line in stdout_lines):
        return "metrics export"
    for line in reversed(stderr_lines):
        text = line.strip()
        if text.startswith(KILL_MARKER):
            continue
        if text.startswith("[") and "] " in text:
            body = text.split("] ", 1)[1]
            if body.startswith("update "):
                return body.split(": ", 1)[-1]  # QUEUED, INITIALIZING, RUNNING, ...
            parts = body.split()
            if len(parts) >= 3 and parts[0] in "+>x-=.":
                return f"{parts[1]} {parts[2]}"  # flow and status
    return "before the update"


def run_harness(
    state: Path,
    config: Path,
    env: Mapping[str, str],
    *,
    kill_after_s: float | None = None,
    timeout_s: float = RUN_TIMEOUT_S,
    kill_after_start_s: float | None = None,
) -> RunOutcome:
    """Run `harness run` to its end, or kill its process group ``kill_after_s`` after the update started
    (or ``kill_after_start_s`` after the process started: a kill during start-up)."""
    command = [
        sys.executable,
        "-c",
        "from harness.cli.main import main; raise SystemExit(main())",
        "run",
        "--bundle",
        str(REPO_ROOT),
        "--target",
        BUNDLE_TARGET,
        "--state",
        str(state),
        "--config",
        str(config),
        "--master",
        "local[2]",
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        env=dict(env),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Python and the JVM die together
    )
    out_lines: list[str] = []
    err_lines: list[str] = []
    update_started = threading.Event()
    start_time: list[float] = []

    def pump(stream: Any, sink: list[str], watch: bool) -> None:
        for line in stream:
            sink.append(line)
            if watch and UPDATE_START in line and not update_started.is_set():
                start_time.append(time.monotonic())
                update_started.set()

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, out_lines, False), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err_lines, True), daemon=True),
    ]
    for thread in threads:
        thread.start()
    killed_by_test = False
    offset: float | None = None
    phase = ""
    try:
        if kill_after_start_s is not None:
            try:
                proc.wait(timeout=kill_after_start_s)
            except subprocess.TimeoutExpired:
                phase = _phase(list(err_lines), list(out_lines))
                if not update_started.is_set():
                    phase = "start-up (" + phase + ")"
                os.killpg(proc.pid, signal.SIGKILL)
                killed_by_test = True
                offset = kill_after_start_s
        elif kill_after_s is not None:
            deadline = started + timeout_s
            while not update_started.wait(0.05):
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
            if update_started.is_set():
                remaining = start_time[0] + kill_after_s - time.monotonic()
                try:
                    proc.wait(timeout=max(remaining, 0.0))
                except subprocess.TimeoutExpired:
                    phase = _phase(list(err_lines), list(out_lines))
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed_by_test = True
                    offset = time.monotonic() - start_time[0]
        proc.wait(timeout=max(started + timeout_s - time.monotonic(), 1.0))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        for thread in threads:
            thread.join(timeout=10)
        _reap_group(proc.pid)
    stderr = "".join(err_lines)
    hit = next((line.split(KILL_MARKER, 1)[1].strip() for line in err_lines if KILL_MARKER in line), None)
    if hit is not None:
        phase = _phase(list(err_lines), list(out_lines))
    return RunOutcome(
        returncode=proc.returncode,
        stdout="".join(out_lines),
        stderr=stderr,
        seconds=time.monotonic() - started,
        update_started_after_s=(start_time[0] - started) if start_time else None,
        killed_by_test=killed_by_test,
        killed_at_offset_s=offset,
        crash_point_hit=hit,
        phase_at_kill=phase,
    )


def _reap_group(pgid: int) -> None:
    """Make sure nothing of a killed group (a JVM still exiting) outlives the trial."""
    for _ in range(100):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@dataclass
class Trial:
    """One row of the trials table."""

    number: int
    batch: int
    kill: str  # crash point, or "t+<s>" for a time offset
    phase: str = ""
    offset_s: float | None = None
    killed: bool = False
    killed_update: str = ""
    recovered_update: str = ""
    checks: list[str] = field(default_factory=list)
    result: str = "?"
    seconds: float = 0.0

    def row(self) -> str:
        offset = "" if self.offset_s is None else f"{self.offset_s:.1f}"
        return (
            f"| {self.number} | {self.batch} | {self.kill} | {self.phase} | {offset} | "
            f"{'yes' if self.killed else 'no (finished first)'} | {self.killed_update} | "
            f"{self.recovered_update} | {'; '.join(self.checks)} | {self.result} | {self.seconds:.0f} |"
        )


TRIALS_HEADER = (
    "| trial | batch | kill point | phase at kill | offset after update start (s) | killed | "
    "killed update | recovering update | verified | result | seconds |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def trials_table(trials: list[Trial]) -> str:
    return "\n".join([TRIALS_HEADER, *(t.row() for t in trials)])


def table_reader(spark: Any, state: Path) -> Callable[[str], Any]:
    tables = state / "pipelines" / PIPELINE_NAME / "tables" / DATABASE
    return lambda name: spark.read.format("delta").load(str(tables / name))


def event_log_path(state: Path) -> Path:
    return state / "pipelines" / PIPELINE_NAME / "system" / "events"
