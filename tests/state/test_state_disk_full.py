"""Issue 16, point 3: the disk holding the state directory fills up during an update.

The state directory is put on a small tmpfs (`mount -t tmpfs -o size=...`, so root is needed); the
first update runs, then a ballast file takes all but a few KiB and a new input file lands: the
update fails with `StateDiskFullError`'s message. After the ballast is removed the next update
completes with every input row exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline import LocalPipeline

pytestmark = pytest.mark.spark

SOURCE = """
import dlt

@dlt.table
def raw():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .schema("id BIGINT, payload STRING")
        .load("/Volumes/main/disk/landing/in")
    )

@dlt.table
def total():
    return spark.read.table("raw").groupBy().count()
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _land(pipeline: LocalPipeline, name: str, first_id: int, rows: int) -> None:
    folder = pipeline.volume_path("/Volumes/main/disk/landing/in")
    folder.mkdir(parents=True, exist_ok=True)
    # incompressible payloads, so the Parquet files are about as large as the JSON
    lines = (json.dumps({"id": i, "payload": os.urandom(48).hex()}) for i in range(first_id, first_id + rows))
    (folder / name).write_text("\n".join(lines) + "\n")


def _fill(disk: Path, leave: int) -> Path:
    ballast = disk / "ballast"
    stat = os.statvfs(disk)
    with open(ballast, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(stat.f_bavail * stat.f_frsize - leave, 0))
    return ballast


def test_full_disk_fails_the_update_clearly_and_the_next_run_recovers(
    spark: Any, tmp_path: Path, small_disk: Path
) -> None:
    root = tmp_path / "src"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "p.py").write_text(textwrap.dedent(SOURCE))
    settings = {
        "name": "disk_full",
        "catalog": "main",
        "schema": "disk",
        "libraries": [{"glob": {"include": "transformations/**"}}],
    }
    pipeline = LocalPipeline(root, settings, state=small_disk / "state", spark=spark)
    _land(pipeline, "0001.json", 0, 100)
    assert pipeline.run().succeeded

    _land(pipeline, "0002.json", 100, 40_000)  # ~4.5 MB of JSON
    ballast = _fill(small_disk, leave=256 * 1024)
    try:
        failed = pipeline.run()
    except Exception as exc:  # the event log itself could not be written
        failed = exc
    finally:
        ballast.unlink()

    from harness.errors import StateDiskFullError

    if isinstance(failed, BaseException):
        assert isinstance(failed, StateDiskFullError), repr(failed)
        message = str(failed)
    else:
        assert failed.status == "FAILED" and failed.error_class == "StateDiskFullError", failed
        message = failed.error or ""
    assert "is full" in message and str(small_disk / "state") in message, message
    assert "No space left on device" in message

    recovered = pipeline.run()
    assert recovered.succeeded, recovered.error
    rows = pipeline.table("raw")
    assert rows.count() == 40_100
    assert rows.select("id").distinct().count() == 40_100
    assert pipeline.table("total").collect()[0][0] == 40_100
