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
    pipeline_root: Path = REPO_ROOT / "pipeline"
    settings: Path = REPO_ROOT / "pipeline" / "configurations" / "settings" / "dev.json"
    environment_config: Path = REPO_ROOT / "pipeline" / "configurations" / "dev_config.json"
    #: landing root inside the dev volume (see docs/data-contract.md)
    landing_root: str = "/Volumes/retail_dev/ecommerce/raw/orders"

    @property
    def report_dir(self) -> Path:
        return self.state / "report"
