"""Issue 10 point 1: `harness run` killed with SIGKILL anywhere, then run again, loses and duplicates nothing.

Each trial drops one simulator batch (hostile defects, schema drift from batch 3) into the dev landing
volume and runs `harness run pipeline/ --config <export enabled>` in its own process group, exporting
to a local PostgreSQL (``HARNESS_PG_DSN``). The process group (Python and the Spark JVM) is killed
with SIGKILL either at a named crash point (``HARNESS_TEST_KILL_AT``: bronze, silver, gold writes,
the event log, the metrics export) or at a seeded random time offset after the update started; then
the same command runs again, unkilled. After every trial: bronze rows = lines produced, the
reconciliation with the manifest is exact (gold = oracle), no order twice in silver, every update in
the event log has exactly one terminal state (the killed one FAILED with UpdateTerminatedUnexpectedly
unless it had finished), and PostgreSQL holds every finished update exactly once with flow row
counts equal to the event log's.

Each trial costs two `harness run` processes (a JVM start and a 17-flow update each), so the default
run has one trial (`test_crash_recovery_one_trial`) and the 20 are `slow`. The trials table is
printed at the end of the pytest run ("crash-recovery trials" section) and written to
``crash_trials.md`` in the test's tmp directory.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from crash_checks import check_event_log, check_postgres, check_tables, dump
from crash_helpers import (
    LANDING,
    TRIAL_TABLES,
    Trial,
    export_config,
    harness_env,
    run_harness,
    trials_table,
)

from harness.postgres import PostgresInfo
from harness.state import StateLayout
from simulator import Simulator, SimulatorConfig

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

#: (crash point, terminal state the killed update must have: FAILED, COMPLETED, or None = either)
NAMED_POINTS: tuple[tuple[str, str | None], ...] = (
    ("after_append:bronze_orders", "FAILED"),  # bronze committed, the stream's checkpoint not
    ("event_log:after_journal", "FAILED"),  # journal says seq N, the event log does not have it
    ("after_append:silver_order_events", "FAILED"),
    ("after_replace:silver_orders", "FAILED"),  # a silver materialized view replaced
    ("after_append:silver_orders_quarantine", "FAILED"),
    ("after_replace:gold_daily_orders", "FAILED"),  # gold
    ("cdc_after_apply:silver_customers", "FAILED"),  # SCD2 merged, the CDC batch not recorded
    ("event_log:after_append@2", None),
    ("update:before_close", "COMPLETED"),  # terminal event committed, journal still lists it open
    ("export:before", "COMPLETED"),  # update done, metrics neither staged nor exported
    ("export:after_staging", "COMPLETED"),  # staged in Delta, PostgreSQL not written
    ("export:after_batch", "COMPLETED"),  # one batch committed in PostgreSQL
)
SEED = 20261204
#: plan entry: a kill at a random time after the process started (JVM start, catalog, first tables)
START = "start"
#: seconds after `harness run` started: the JVM starts in ~8-20 s here, the first tables follow
START_WINDOW_S = (1.0, 25.0)
#: named points that only a first start on a fresh state reaches
FIRST_START_POINTS: tuple[tuple[str, str | None], ...] = (
    ("session:catalog_restored", None),  # JVM up, catalog restored, no update yet
    ("after_create:bronze_orders", "FAILED"),  # first Delta table created, not yet in the catalog
)


class TrialRunner:
    """One pipeline state, one PostgreSQL schema, one simulator: trials run one after the other."""

    def __init__(self, spark: Any, base: Path, pg: PostgresInfo, schema: str) -> None:
        self.spark = spark
        self.state = base / "state"
        self.pg = pg
        self.schema = schema
        self.config = export_config(base / "metrics_config.json", schema=schema)
        landing = StateLayout.at(self.state).volumes_dir / LANDING.removeprefix("/Volumes/")
        self.sim = Simulator(
            SimulatorConfig(
                seed=10, orders_per_batch=60, customers=400, profile="hostile", schema_drift_at=3
            ),
            landing,
        )
        self.dsn = pg.dsn(include_password=True)
        #: seconds from the update's start to the end of `harness run` (update + export), last seen
        self.duration_s = 60.0
        self.trials: list[Trial] = []

    def trial(
        self,
        kill_at: str | None = None,
        must_be: str | None = None,
        offset_s: float | None = None,
        start_offset_s: float | None = None,
    ) -> Trial:
        started = time.monotonic()
        result = self.sim.next_batch()
        trial = Trial(
            len(self.trials) + 1,
            result.manifest["batch_id"],
            kill_at or (f"t+{offset_s:.1f}s" if start_offset_s is None else f"start+{start_offset_s:.1f}s"),
            offset_s=offset_s,
        )
        self.trials.append(trial)
        killed = run_harness(
            self.state,
            self.config,
            harness_env(self.dsn, kill_at),
            kill_after_s=offset_s,
            kill_after_start_s=start_offset_s,
        )
        trial.killed = killed.killed
        trial.phase = killed.phase_at_kill
        if kill_at is not None:
            assert killed.crash_point_hit is not None and killed.killed, dump(killed)
        if trial.killed and killed.killed_at_offset_s is not None:
            trial.offset_s = killed.killed_at_offset_s
        recovered = run_harness(self.state, self.config, harness_env(self.dsn))
        assert recovered.returncode == 0, dump(recovered)
        if recovered.update_started_after_s is not None:
            self.duration_s = recovered.seconds - recovered.update_started_after_s
        killed_ids, recovered_ids = killed.update_ids(), recovered.update_ids()
        assert recovered_ids, dump(recovered)
        checks = check_tables(self.spark, self.state, result.manifest)
        log_checks, trial.killed_update, trial.recovered_update = check_event_log(
            self.spark,
            self.state,
            killed_ids[-1] if killed_ids and trial.killed else None,
            recovered_ids[-1],
            must_be,
        )
        connection = self.pg.connect()
        try:
            connection.autocommit = True
            pg_checks = check_postgres(self.spark, self.state, connection, self.schema)
        finally:
            connection.close()
        trial.checks = checks + log_checks + pg_checks
        trial.result = "PASS"
        trial.seconds = time.monotonic() - started
        return trial

    def random_offset(self, rng: random.Random) -> float:
        """A time after the update started, anywhere up to the end of the export."""
        return round(rng.uniform(0.2, max(self.duration_s, 5.0)), 1)


def _run_plan(runner: TrialRunner, plan: list[tuple[str | None, str | None]], rng: random.Random) -> None:
    """Run the trials in order; the table so far is rewritten after each one (a long run shows progress)."""
    progress = runner.state.parent / "crash_trials.md"
    try:
        for point, must_be in plan:
            if point is None:
                runner.trial(offset_s=runner.random_offset(rng))
            elif point == START:
                runner.trial(start_offset_s=round(rng.uniform(*START_WINDOW_S), 1))
            else:
                runner.trial(point, must_be)
            progress.write_text(trials_table(runner.trials) + "\n")
    except BaseException:
        if runner.trials:
            runner.trials[-1].result = "FAIL"
        raise


def _report(request: pytest.FixtureRequest, runner: TrialRunner, base: Path) -> None:
    table = trials_table(runner.trials)
    TRIAL_TABLES.append((request.node.nodeid, table))
    (base / "crash_trials.md").write_text(table + "\n")
    request.node.user_properties.append(("crash_trials", table))
    print(table)


@pytest.fixture
def runner(request: pytest.FixtureRequest, spark: Any, crash_pg: PostgresInfo, tmp_path: Path) -> Any:
    schema = "crash_" + re.sub(r"[^a-z0-9_]+", "_", request.node.name.removeprefix("test_crash_recovery_"))
    trial_runner = TrialRunner(spark, tmp_path, crash_pg, schema)
    yield trial_runner
    _report(request, trial_runner, tmp_path)


def test_crash_recovery_one_trial(runner: TrialRunner) -> None:
    """Lean (default run): killed inside the very first update, right after bronze committed a micro-batch
    and before the stream's checkpoint did; the rerun must skip the replayed batch (txnAppId/txnVersion)."""
    _run_plan(runner, [("after_append:bronze_orders", "FAILED")], random.Random(SEED))
    assert [t.result for t in runner.trials] == ["PASS"]


@pytest.mark.slow
def test_crash_recovery_named_points(runner: TrialRunner) -> None:
    """Campaign part 1 (issue 16 point 3): every named crash point of an update once, in order on one
    state (12 trials)."""
    _run_plan(runner, list(NAMED_POINTS), random.Random(SEED))
    assert [t.result for t in runner.trials] == ["PASS"] * len(NAMED_POINTS)


@pytest.mark.slow
def test_crash_recovery_random_offsets(runner: TrialRunner) -> None:
    """Campaign part 2: 6 seeded random times after the update started, on one state."""
    _run_plan(runner, [(None, None)] * 6, random.Random(SEED))
    assert [t.result for t in runner.trials] == ["PASS"] * 6
    killed_by_time = [t for t in runner.trials if t.killed]
    assert len(killed_by_time) >= 4, "most random offsets must land inside the run"


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["random-1", "random-2", *[p for p, _ in FIRST_START_POINTS]])
def test_crash_recovery_first_start(runner: TrialRunner, kill: str) -> None:
    """Campaign part 3: killed during the very first start on a fresh state (random times after the
    process started, and the named start-up points), then the next run must recover."""
    seed = SEED + (int(kill.split("-")[1]) if kill.startswith("random-") else 0)
    plan = [(START, None)] if kill.startswith("random-") else [(kill, dict(FIRST_START_POINTS)[kill])]
    _run_plan(runner, plan, random.Random(seed))
    assert [t.result for t in runner.trials] == ["PASS"]
