"""Pure parts of the engine: metrics records, the batch ledger and snapshot version encoding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from harness.cdc.model import CdcBatchMetrics, MergeCounts
from harness.cdc.state import (
    commit_batch,
    committed_batch,
    decode_version,
    encode_version,
    latest_snapshot_version,
    record_snapshot_version,
)

pytestmark = pytest.mark.unit


def test_merge_counts_become_metrics():
    counts = MergeCounts(inserted=2, updated=3, deleted=1) + MergeCounts(deleted=4)
    assert counts.metrics(num_input_rows=9) == CdcBatchMetrics(9, 5, 5, 5)


def test_flow_progress_metrics_follow_what_databricks_reports():
    metrics = CdcBatchMetrics(num_input_rows=9, num_upserted_rows=5, num_deleted_rows=2, num_output_rows=5)
    assert metrics.flow_progress_metrics() == {"num_upserted_rows": 5, "num_deleted_rows": 2}
    assert metrics.flow_progress_metrics(auto_cdc=False) == {
        "num_output_rows": 5,
        "num_upserted_rows": 5,
        "num_deleted_rows": 2,
    }


def test_batch_ledger_round_trip(tmp_path):
    assert committed_batch(str(tmp_path), "flow/with odd:name") is None
    commit_batch(str(tmp_path), "flow/with odd:name", 7, CdcBatchMetrics(3, 2, 1, 2))
    assert committed_batch(str(tmp_path), "flow/with odd:name") == (7, CdcBatchMetrics(3, 2, 1, 2))
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize(
    "version",
    [0, 12, "2024-05-01", dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 12, 30), Decimal("1.50"), 2.5],
)
def test_snapshot_versions_keep_their_type(tmp_path, version):
    assert decode_version(encode_version(version)) == version
    record_snapshot_version(str(tmp_path), "snap", version)
    restored = latest_snapshot_version(str(tmp_path), "snap")
    assert restored == version
    assert type(restored) is type(version)


@pytest.mark.parametrize("version", [True, None, object()])
def test_unusable_snapshot_versions_are_refused(version):
    with pytest.raises(TypeError):
        encode_version(version)
