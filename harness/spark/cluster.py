"""A Spark standalone cluster on this machine, from pyspark's own distribution (no Spark download).

For the "beyond one machine" test: a master and N workers started with ``bin/spark-class`` as
separate JVMs on loopback, so the harness runs against ``spark://127.0.0.1:<port>`` exactly as it
would against a real cluster (executors in other processes, the Delta jars shipped to them by
``spark.jars.packages``, storage shared through the local file system). Stopped, with every
process, when the context exits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


class ClusterStartError(HarnessError):
    """Raised when the local standalone master or its workers do not come up in time."""

    def __init__(self, what: str, log: Path, detail: str) -> None:
        super().__init__(
            f"Spark standalone {what} did not start: {detail}. Log: {log}", what=what, log=str(log)
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str
    web_url: str
    workers: int

    def alive_workers(self) -> int:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            state = json.load(response)
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SPARK_NO_DAEMONIZE="1", PYSPARK_PYTHON=sys.executable)
    with open(log, "ab") as sink:
        return subprocess.Popen(
            [str(spark_class()), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # one process group per daemon: stopped together
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def standalone_cluster(
    work_dir: Path,
    workers: int = 2,
    cores_per_worker: int = 1,
    memory_per_worker: str = "1g",
    timeout: float = 120,
) -> Iterator[StandaloneCluster]:
    """Start a master and `workers` workers on loopback; yield the cluster; stop everything."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port, web_port = _free_port(), _free_port()
    master_log = work_dir / "master.log"
    processes = [
        _start(
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(web_port),
            ],
            master_log,
        )
    ]
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{web_port}", workers)
    try:
        for index in range(workers):
            worker_dir = work_dir / f"worker-{index}"
            worker_dir.mkdir(exist_ok=True)
            processes.append(
                _start(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        cluster.master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores_per_worker),
                        "--memory",
                        memory_per_worker,
                        "--work-dir",
                        str(worker_dir),
                        "--webui-port",
                        str(_free_port()),
                    ],
                    work_dir / f"worker-{index}.log",
                )
            )
        deadline = time.monotonic() + timeout
        alive = 0
        while time.monotonic() < deadline:
            if processes[0].poll() is not None:
                raise ClusterStartError("master", master_log, f"exited with {processes[0].returncode}")
            try:
                alive = cluster.alive_workers()
            except OSError:
                alive = 0
            if alive == workers:
                break
            time.sleep(1)
        else:
            raise ClusterStartError(
                "workers", work_dir, f"{alive} of {workers} registered within {timeout:.0f}s"
            )
        yield cluster
    finally:
        for process in reversed(processes):
            _stop(process)
