"""Which Spark the harness talks to, and what that engine can do.

Differences between engines are capability flags on one small class, read by the session factory
and the runtime, instead of `if master.startswith(...)` scattered around the code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from harness.errors import SparkConfigurationError

MASTER_ENV = "HARNESS_SPARK_MASTER"
REMOTE_ENV = "HARNESS_SPARK_REMOTE"

_LOCAL = re.compile(r"^local(\[(\*|\d+)(,\d+)?\])?$")


@dataclass(frozen=True)
class SparkTarget:
    """One Spark engine the harness can run a pipeline on."""

    kind: str  # "local" | "cluster" | "connect"
    url: str
    #: the harness puts the Delta jars on the classpath itself (spark.jars.packages / spark.jars)
    ships_delta_jars: bool
    #: the harness configures a Derby-backed Hive metastore under the state directory
    uses_local_metastore: bool
    #: executors see the driver's filesystem paths (local mode, or a cluster on shared storage)
    shares_driver_filesystem: bool
    #: JVM-level tuning (driver memory, extra Java options) is the harness's to set
    configures_jvm: bool

    @classmethod
    def local(cls, cores: str = "*") -> SparkTarget:
        return cls("local", f"local[{cores}]", True, True, True, True)

    @classmethod
    def from_url(cls, url: str | None) -> SparkTarget:
        """local / local[N] / spark://host:port / sc://host:port; None reads the environment."""
        url = url or os.environ.get(REMOTE_ENV) or os.environ.get(MASTER_ENV) or "local[*]"
        if _LOCAL.match(url):
            return cls("local", url, True, True, True, True)
        if url.startswith("spark://"):
            if not re.match(r"^spark://[^/:]+(:\d+)?(,[^/:]+(:\d+)?)*$", url):
                raise SparkConfigurationError("master", url, "expected spark://host:port")
            # A standalone cluster: the harness still ships Delta jars and owns the metastore (driver
            # side); storage must be shared between driver and workers (same machine or a shared mount).
            return cls("cluster", url, True, True, True, True)
        if url.startswith("sc://"):
            # Spark Connect: the server owns the classpath, the catalog and the JVM.
            return cls("connect", url, False, False, False, False)
        raise SparkConfigurationError(
            "master",
            url,
            "use local[N], spark://host:port (standalone cluster) or sc://host:port (Spark Connect)",
        )
