"""Issue 15 point 3: updates of a streaming table with expectations do not grow Python threads or fds.

Before, every micro-batch went through a Python `foreachBatch`, and each classic streaming query
with a Python callback leaves one py4j callback thread and one socket behind for the life of the
process (shared/reference/engine-notes.md). Streaming tables are now written by Delta's own
streaming sink with the expectations observed in the plan, so N more updates leave the counts of
threads and open file descriptors of this process where they were. Counted, never timed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import make_pipeline

pytestmark = pytest.mark.spark

PIPELINE = """
    import dlt

    @dlt.table
    @dlt.expect_or_drop("positive", "n > 0")
    @dlt.expect("small", "n < 100")
    def readings():
        return spark.readStream.format("json").schema("id INT, n INT").load("/Volumes/main/leak/landing/r")

    @dlt.table
    @dlt.expect_or_drop("even_id", "id % 2 = 0")
    def even_readings():
        return dlt.read_stream("readings")
"""

UPDATES = 6


def _resources() -> tuple[int, int]:
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


def test_updates_of_a_streaming_table_leave_threads_and_fds_flat(spark: Any, tmp_path: Path) -> None:
    pipeline = make_pipeline(spark, tmp_path, "leak", {"transformations/readings.py": PIPELINE})
    landing = pipeline.volume_path("/Volumes/main/leak/landing/r")
    landing.mkdir(parents=True)

    def update(number: int) -> Any:
        rows = [{"id": number * 10 + i, "n": i - 1} for i in range(4)]  # n = -1, 0, 1, 2
        (landing / f"{number}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        result = pipeline.run()
        assert result.status == "COMPLETED", result.error
        return result

    for number in range(2):  # warm-up: the first updates start the session's shared threads
        update(number)
    before = _resources()
    for number in range(2, 2 + UPDATES):
        result = update(number)
        assert result.flows["readings"].num_output_rows == 2  # n = 1, 2 kept
        assert result.flows["readings"].dropped_records == 2
    after = _resources()
    assert after == before, f"threads, fds before {before}, after {UPDATES} more updates {after}"
    assert pipeline.table("readings").count() == 2 * (2 + UPDATES)
