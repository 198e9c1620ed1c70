"""Issue 14 points 1 and 6: `.sql` files are pipeline sources next to `.py` files (no JVM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runtime.sources import library_files
from harness.settings.model import parse_settings
from harness.shim.records import DatasetKind
from harness.shim.registry import PipelineRegistry
from harness.sql.register import load_sql_text

pytestmark = pytest.mark.unit


def _libraries(libraries: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    return parse_settings({"name": "p", "schema": "s", "libraries": libraries}).libraries


def test_globs_and_notebooks_pick_sql_and_python_files(tmp_path: Path) -> None:
    for name in ("t/a.py", "t/b.sql", "t/notes.txt", "t/sub/c.sql", "nb/orders.sql"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    files = library_files(
        _libraries([{"glob": {"include": "t/**"}}, {"notebook": {"path": "nb/orders"}}]), tmp_path
    )
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "t/a.py",
        "t/b.sql",
        "t/sub/c.sql",
        "nb/orders.sql",
    ]


def test_sql_declarations_land_in_the_shared_registry_with_set_scoped_to_what_follows() -> None:
    registry = PipelineRegistry()
    load_sql_text(
        "CREATE OR REFRESH MATERIALIZED VIEW first AS SELECT 1 AS x;\n"
        "SET spark.sql.shuffle.partitions = 7;\n"
        "CREATE OR REFRESH STREAMING TABLE target (CONSTRAINT ok EXPECT (x > 0) ON VIOLATION DROP ROW);\n"
        "CREATE FLOW into_target AS INSERT INTO target BY NAME SELECT * FROM STREAM(src);\n"
        "CREATE TEMPORARY VIEW v (CONSTRAINT seen EXPECT (x IS NOT NULL)) AS SELECT x FROM first;\n"
        "APPLY CHANGES INTO LIVE.dim FROM STREAM(LIVE.changes) KEYS (id) SEQUENCE BY `seq`;\n",
        "/p/f.sql",
        registry,
        {},
        "main",
        "s",
    )
    datasets, flows = registry.datasets, registry.flows
    assert {n: d.kind for n, d in datasets.items()} == {
        "first": DatasetKind.MATERIALIZED_VIEW,
        "target": DatasetKind.STREAMING_TABLE,
        "v": DatasetKind.VIEW,
    }
    assert datasets["first"].spark_conf == {} and flows["first"].spark_conf == {}
    assert flows["into_target"].spark_conf == {"spark.sql.shuffle.partitions": "7"}
    assert [e.name for e in datasets["target"].expectations] == ["ok"]
    assert [e.name for e in flows["v"].expectations] == ["seen"] and not datasets["v"].expectations
    assert (flows["into_target"].target, flows["into_target"].is_default) == ("target", False)
    cdc = flows["dim"]
    assert (cdc.target, cdc.source, cdc.keys, cdc.sequence_by) == ("LIVE.dim", "LIVE.changes", ("id",), "seq")
    assert str(datasets["first"].location) == "/p/f.sql:1" and str(cdc.location) == "/p/f.sql:6"
