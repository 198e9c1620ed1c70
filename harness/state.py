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

    # --- services ------------------------------------------------------------------------------
    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"
