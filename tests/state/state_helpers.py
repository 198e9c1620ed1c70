"""A tiny pipeline and `harness` subprocesses for the state tests (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from harness.runtime.crashpoints import KILL_ENV

REPO = Path(__file__).resolve().parents[2]

PIPELINE = """
    import dlt

    @dlt.table
    def numbers():
        return spark.range(5)

    @dlt.table
    def evens():
        return spark.read.table("numbers").where("id % 2 = 0")
"""


def tiny_pipeline(base: Path, name: str = "state_demo") -> tuple[Path, Path]:
    """(pipeline root, settings file) of a two-table pipeline in ``main.<name>``."""
    root = base / "proj"
    (root / "transformations").mkdir(parents=True, exist_ok=True)
    (root / "transformations" / "p.py").write_text(textwrap.dedent(PIPELINE))
    settings = base / f"{name}.json"
    settings.write_text(
        json.dumps(
            {
                "name": name,
                "catalog": "main",
                "schema": name,
                "libraries": [{"glob": {"include": "transformations/**"}}],
            }
        )
    )
    return root, settings


def env(kill_at: str | None = None, **extra: str) -> dict[str, str]:
    result = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0", **extra}
    result.pop(KILL_ENV, None)
    if kill_at:
        result[KILL_ENV] = kill_at
    return result


def harness(*args: str, environ: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-c", "from harness.cli.main import main; raise SystemExit(main())", *args]


def start(args: list[str], environ: dict[str, str]) -> subprocess.Popen[str]:
    """A `harness` process in its own process group (so a SIGKILL takes its JVM with it)."""
    return subprocess.Popen(
        harness(*args),
        env=environ,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run(args: list[str], environ: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        harness(*args), env=environ, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until ``path`` exists (the process wrote it) or the process ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def reap_group(pgid: int) -> None:
    import signal

    for _ in range(100):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)
