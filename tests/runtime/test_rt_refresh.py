"""Issue 3, point 7: refresh, full refresh (all or a selection), pipelines.reset.allowed, once flows.

Oracle (shared/reference/dlt-semantics.md §11.5, §3.2): a full refresh truncates each streaming
table, removes its checkpoints and reprocesses all input; a table with pipelines.reset.allowed=false
keeps its data and checkpoint (skipped by a full refresh of all, TABLE_NOT_RESETTABLE when selected);
a selection runs only the named tables; a once=True append flow runs once and again after a full
refresh.
"""

from __future__ import annotations

from typing import Any

import pytest
from rt_helpers import events, make_pipeline, rows

pytestmark = pytest.mark.spark

PIPELINE = """
    import dlt

    @dlt.table
    def st_a():
        return spark.readStream.table("rt_ref_src.events")

    @dlt.table(table_properties={"pipelines.reset.allowed": "false"})
    def st_keep():
        return spark.readStream.table("rt_ref_src.events")

    @dlt.table
    def mv_count():
        return dlt.read("st_a").groupBy().count()

    dlt.create_streaming_table("target")

    @dlt.append_flow(target="target", once=True)
    def backfill():
        return spark.range(100, 102).selectExpr("CAST(id AS INT) AS v")

    @dlt.append_flow(target="target")
    def live_feed():
        return spark.readStream.table("rt_ref_src.events")
"""


def append(spark: Any, *values: int) -> None:
    spark.createDataFrame([(v,) for v in values], "v INT").write.format("delta").mode("append").saveAsTable(
        "rt_ref_src.events"
    )


@pytest.fixture(scope="module")
def refresh(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rt_refresh")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS rt_ref_src LOCATION '{base / 'src_db'}'")
    append(spark, 1, 2)
    p = make_pipeline(spark, base, "rt_refresh", {"transformations/p.py": PIPELINE})
    out: dict[str, Any] = {"pipeline": p, "snap": {}}

    def snapshot(step: str) -> None:
        out["snap"][step] = {name: rows(p.table(name), "v") for name in ("st_a", "st_keep", "target")} | {
            "mv_count": rows(p.table("mv_count"), "count")
        }

    out["initial"] = p.run()
    snapshot("initial")
    append(spark, 3)
    out["incremental"] = p.run()
    snapshot("incremental")
    # the streaming query's id, kept in its checkpoint: a new checkpoint gives a new query id
    checkpoint = p.runtime.checkpoints_root / "st_a" / "st_a" / "metadata"
    out["app_id_before"] = checkpoint.read_text()
    out["full"] = p.run(full_refresh=True)
    out["app_id_after"] = checkpoint.read_text()
    snapshot("full")
    out["selection"] = p.run(full_refresh_selection=["st_a"], refresh=["mv_count"])
    snapshot("selection")
    out["not_resettable"] = p.run(full_refresh_selection=["st_keep"])
    snapshot("not_resettable")
    yield out
    spark.sql("DROP DATABASE IF EXISTS rt_ref_src CASCADE")


def test_default_updates_are_incremental_and_once_flows_run_once(refresh: dict[str, Any]) -> None:
    snap = refresh["snap"]
    assert refresh["initial"].status == "COMPLETED", refresh["initial"].error
    assert snap["initial"]["target"] == [(1,), (2,), (100,), (101,)]
    assert refresh["incremental"].flows["st_a"].num_output_rows == 1
    assert refresh["incremental"].flows["backfill"].status == "IDLE"
    assert snap["incremental"]["st_a"] == [(1,), (2,), (3,)]
    assert snap["incremental"]["target"] == [(1,), (2,), (3,), (100,), (101,)]
    assert snap["incremental"]["mv_count"] == [(3,)]


def test_full_refresh_resets_tables_and_checkpoints_except_non_resettable(refresh: dict[str, Any]) -> None:
    full, snap = refresh["full"], refresh["snap"]["full"]
    assert full.status == "COMPLETED", full.error
    assert full.flows["st_a"].num_output_rows == 3  # all input reprocessed from a new checkpoint...
    assert snap["st_a"] == [(1,), (2,), (3,)]  # ...into a truncated table (no duplicates)
    assert refresh["app_id_before"] != refresh["app_id_after"]
    assert full.flows["st_keep"].num_output_rows == 0  # data and checkpoint kept
    assert snap["st_keep"] == [(1,), (2,), (3,)]
    warnings = [
        e["message"] for e in events(refresh["pipeline"], full, "update_progress") if e["level"] == "WARN"
    ]
    assert any("st_keep" in w and "pipelines.reset.allowed" in w for w in warnings)
    (create,) = events(refresh["pipeline"], full, "create_update")
    assert create["details"]["full_refresh"] is True


def test_once_flow_runs_again_after_full_refresh(refresh: dict[str, Any]) -> None:
    assert refresh["full"].flows["backfill"].status == "COMPLETED"
    assert refresh["full"].flows["backfill"].num_output_rows == 2
    assert refresh["snap"]["full"]["target"] == [(1,), (2,), (3,), (100,), (101,)]


def test_selection_runs_and_resets_only_named_tables(refresh: dict[str, Any]) -> None:
    result, snap = refresh["selection"], refresh["snap"]["selection"]
    assert result.status == "COMPLETED", result.error
    status = {name: flow.status for name, flow in result.flows.items()}
    assert status == {
        "st_a": "COMPLETED",
        "mv_count": "COMPLETED",
        "st_keep": "EXCLUDED",
        "backfill": "EXCLUDED",
        "live_feed": "EXCLUDED",
    }
    assert result.flows["st_a"].num_output_rows == 3
    assert snap["st_a"] == [(1,), (2,), (3,)] and snap["mv_count"] == [(3,)]
    (create,) = events(refresh["pipeline"], result, "create_update")
    assert create["details"]["full_refresh_selection"] == ["st_a"]
    assert create["details"]["refresh_selection"] == ["mv_count"]


def test_selecting_a_non_resettable_table_fails_the_update_untouched(refresh: dict[str, Any]) -> None:
    result = refresh["not_resettable"]
    assert result.status == "FAILED" and result.error_class == "TableNotResettableError"
    assert refresh["snap"]["not_resettable"] == refresh["snap"]["selection"]
