"""What the e2e job runs on: embedded defaults sized for about a minute or two on 2 cores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def fresh_state_dir(base: Path | None = None) -> Path:
    """A new state directory per run (`.harness/e2e/run-YYYYmmddTHHMMSS`), so runs never mix."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return (base or REPO_ROOT / ".harness" / "e2e") / f"run-{stamp}"


@dataclass(frozen=True)
class E2EOptions:
    """Knobs of one e2e run; every one has a command-line option in `harness e2e`."""

    state: Path
    batches: int = 3
    orders_per_batch: int = 300
    seed: int = 42
    #: a small customer base and weekly batches, so customers repeat (cohorts, retention, LTV) and the
    #: change feed gives the SCD2 dimension several versions and a delete within three batches
    customers: int = 1000
    interval: str = "7d"
    profile: str = "realistic"
    schema_drift_at: int | None = 2
    master: str | None = None
    #: the JVM heap of the e2e's driver: the default sizes need far less than the harness's 3g default
    driver_memory: str = "1g"
    #: the pipeline as the Databricks Asset Bundle deploys it (databricks.yml, resources/*.yml)
    bundle: Path = REPO_ROOT
    target: str | None = "dev"
    pipeline: str | None = None  # the only pipeline of the bundle
    variables: tuple[tuple[str, str], ...] = ()
    #: a pipeline settings JSON instead of the bundle (with ``pipeline_root``)
    settings: Path | None = None
    pipeline_root: Path | None = None
    environment_config: Path = REPO_ROOT / "pipeline" / "configurations" / "dev_config.json"
    #: landing root (see docs/data-contract.md); default: ``/Volumes/<catalog>/<schema>/raw/orders``
    landing_root: str | None = None

    @property
    def report_dir(self) -> Path:
        return self.state / "report"
