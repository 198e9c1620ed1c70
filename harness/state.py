"""Where the harness keeps its state on disk.

Everything the harness writes lives under one state directory (default ``./.harness``): Spark's
warehouse, Derby metastore and temp files, the Ivy cache of the Delta jars, each pipeline's tables,
checkpoints and event log, the local stand-in for Unity Catalog volumes, and the PostgreSQL server
the harness may start. Nothing is scattered into the working directory. See docs/state-layout.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = ".harness"
IVY_DIR_ENV = "HARNESS_IVY_DIR"


def slug(name: str) -> str:
    """A filesystem- and SQL-safe form of a pipeline name (lower case, [a-z0-9_])."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    return cleaned or "pipeline"


@dataclass(frozen=True)
class StateLayout:
    """Paths under one harness state directory; creating the object creates nothing on disk."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> StateLayout:
        return cls(Path(root or DEFAULT_STATE_DIR).expanduser().resolve())

    # --- Spark ---------------------------------------------------------------------------------
    @property
    def ivy_dir(self) -> Path:
        """Ivy cache for spark.jars.packages; HARNESS_IVY_DIR shares one cache between state dirs."""
        shared = os.environ.get(IVY_DIR_ENV)
        return Path(shared).expanduser().resolve() if shared else self.root / "ivy"

    @property
    def jars_dir(self) -> Path:
        """Jars fetched with Maven when Spark's own Ivy resolution cannot reach Maven Central."""
        return self.root / "jars"

    @property
    def spark_dir(self) -> Path:
        return self.root / "spark"

    @property
    def warehouse_dir(self) -> Path:
        return self.spark_dir / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.spark_dir / "metastore"

    @property
    def tmp_dir(self) -> Path:
        return self.spark_dir / "tmp"

    # --- data ----------------------------------------------------------------------------------
    @property
    def volumes_dir(self) -> Path:
        """Local stand-in for /Volumes/<catalog>/<schema>/<volume>/..."""
        return self.root / "volumes"

    @property
    def dbfs_dir(self) -> Path:
        """The local stand-in for the DBFS root (`dbfs:/...` paths of `dbutils.fs`)."""
        return self.root / "dbfs"

    @property
    def secrets_file(self) -> Path:
        """Local secrets for `dbutils.secrets` (`{"scope": {"key": "value"}}`), unless HARNESS_SECRETS_FILE."""
        return self.root / "secrets.json"

    def pipeline_dir(self, pipeline_name: str) -> Path:
        return self.pipelines_dir / slug(pipeline_name)

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    def pipeline_slugs(self) -> list[str]:
        """The pipelines (by slug) that have a folder in this state directory, sorted."""
        root = self.pipelines_dir
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def tables_dir(self, pipeline_name: str) -> Path:
        return self.pipeline_dir(pipeline_name) / "tables"

    def checkpoints_dir(self, pipeline_name: str) -> Path:
        return self.pipeline_dir(pipeline_name) / "checkpoints"

    def autoloader_dir(self, pipeline_name: str) -> Path:
        """Default Auto Loader schema locations, as Databricks manages them inside pipelines."""
        return self.pipeline_dir(pipeline_name) / "autoloader"

    def event_log_dir(self, pipeline_name: str) -> Path:
        """The pipeline's event log, a Delta table (cf. <storage>/system/events on Databricks)."""
        return self.pipeline_dir(pipeline_name) / "system" / "events"

    def event_log_journal(self, pipeline_name: str) -> Path:
        """Beside the event log: last sequence number written and updates still open (crash recovery)."""
        return event_log_journal_of(self.event_log_dir(pipeline_name))

    # --- per flow (under checkpoints_dir; reset with the flow's table on full refresh) ------------
    def flow_checkpoint_dir(self, pipeline_name: str, target: str, flow: str) -> Path:
        return flow_checkpoint_in(self.checkpoints_dir(pipeline_name), target, flow)

    def cdc_state_dir(self, pipeline_name: str, target: str) -> Path:
        return cdc_state_in(self.checkpoints_dir(pipeline_name), target)

    def autoloader_schema_dir(self, pipeline_name: str, target: str, flow: str, source_index: int) -> Path:
        """Default schema location of a flow's n-th Auto Loader source (inside its checkpoint)."""
        checkpoint = self.flow_checkpoint_dir(pipeline_name, target, flow)
        return harness_dir_in(checkpoint) / "autoloader" / str(source_index)

    def update_lock(self, pipeline_name: str) -> Path:
        """Held (flock) while an update of this pipeline runs: two processes never update it at once."""
        return self.pipeline_dir(pipeline_name) / "update.lock"

    # --- services ------------------------------------------------------------------------------
    @property
    def engine_socket(self) -> Path:
        """Where a warm engine (`harness dev`) listens; a unix socket path must stay under ~100 bytes."""
        path = self.root / "engine.sock"
        if len(str(path)) < 100:
            return path
        import hashlib

        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(os.environ.get("TMPDIR", "/tmp")) / f"harness-engine-{digest}.sock"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"


# The rules below take an already-resolved folder (a checkpoints root, a checkpoint, the event log) for
# code that is handed one; they are the only place these layouts are spelled out.
def flow_checkpoint_in(checkpoints_root: Path, target: str, flow: str) -> Path:
    """A flow's streaming checkpoint: <checkpoints>/<target>/<flow>."""
    return checkpoints_root / target / flow


def cdc_state_in(checkpoints_root: Path, target: str) -> Path:
    """AUTO CDC state of one target, shared by every CDC flow into it (reset with the target)."""
    return checkpoints_root / target / "__harness_cdc_state"


def harness_dir_in(checkpoint: Path) -> Path:
    """Harness-owned state inside a flow's checkpoint (removed with it on full refresh)."""
    return checkpoint / "_harness"


def event_log_journal_of(event_log: Path) -> Path:
    return event_log.parent / (event_log.name + "_journal.json")
