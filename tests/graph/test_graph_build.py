"""Issue 3, point 2: source discovery, dependency edges and graph errors on the real loader.

Each test writes a tiny pipeline into tmp_path and calls `LocalPipeline.validate()` (load + analyse,
nothing written), so the graph is built exactly as `harness run` builds it. Errors are checked by
class and fields (dataset, reader, source line), never by wording.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.errors import (
    CircularDependencyError,
    DuplicateDatasetError,
    ForbiddenActionError,
    InvalidQueryResultError,
    PipelineSourceError,
    UnknownDatasetError,
)
from harness.pipeline import LocalPipeline
from harness.shim.records import DatasetKind

pytestmark = pytest.mark.spark


def write(root: Path, files: dict[str, str]) -> None:
    for name, code in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")


def pipeline(
    spark: Any, tmp_path: Path, name: str, files: dict[str, str], libraries: list[dict]
) -> LocalPipeline:
    root = tmp_path / "proj"
    write(root, files)
    settings = {"name": name, "catalog": "main", "schema": name, "libraries": libraries}
    return LocalPipeline(root, settings, state=tmp_path / "state", spark=spark)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def test_libraries_file_notebook_glob_and_sibling_imports(spark: Any, tmp_path: Path) -> None:
    files = {
        "utils/__init__.py": "",
        "utils/rules.py": "RULES = {'positive': 'id >= 0'}\nN = 3\n",
        "transformations/a.py": """
            import dlt
            from utils.rules import RULES, N

            @dlt.table
            @dlt.expect_all(RULES)
            def from_glob_a():
                return spark.range(N)
        """,
        "transformations/sub/b.py": """
            import dlt

            @dlt.table
            def from_glob_b():
                return dlt.read("from_glob_a")
        """,
        "transformations/README.txt": "not python: ignored",
        "notebooks/nb_source.py": """
            # Databricks notebook source
            import dlt

            @dlt.view
            def from_notebook():
                return spark.range(1)
        """,
        "explorations/ws_file.py": """
            import dlt

            @dlt.table
            def from_workspace_path():
                return spark.range(2)
        """,
        "unlisted.py": "import dlt\n\n@dlt.table\ndef must_not_load():\n    return spark.range(1)\n",
    }
    p = pipeline(
        spark,
        tmp_path,
        "graph_discovery",
        files,
        [
            {"glob": {"include": "transformations/**"}},
            {"notebook": {"path": "notebooks/nb_source"}},  # notebooks are referenced without .py
            {"file": {"path": "/Workspace/Users/me@x.com/proj/explorations/ws_file.py"}},
        ],
    )
    graph = p.validate()
    assert set(graph.datasets) == {"from_glob_a", "from_glob_b", "from_notebook", "from_workspace_path"}
    assert graph.datasets["from_notebook"].kind is DatasetKind.VIEW
    rules = graph.flows["from_glob_a"].definition.expectations
    assert [(r.name, r.constraint) for r in rules] == [("positive", "id >= 0")]
    assert graph.flows["from_glob_b"].reads == {"from_glob_a"}


def test_missing_library_is_a_pipeline_source_error(spark: Any, tmp_path: Path) -> None:
    p = pipeline(spark, tmp_path, "graph_missing", {}, [{"file": {"path": "nope.py"}}])
    with pytest.raises(PipelineSourceError) as info:
        p.validate()
    assert info.value.path.endswith("nope.py")


DEPS = """
    import dlt

    @dlt.table
    def src():
        return spark.range(5).withColumnRenamed("id", "v")

    @dlt.table
    def st_src():
        return spark.readStream.format("rate").load().selectExpr("value AS v")

    @dlt.table
    def by_dlt_read():
        return dlt.read("src")

    @dlt.table
    def by_read_table_live():
        return spark.read.table("LIVE.src")

    @dlt.table
    def by_spark_table_qualified():
        return spark.table("main.graph_deps.src")

    @dlt.table
    def by_spark_table_schema():
        return spark.table("graph_deps.src")

    @dlt.table
    def by_read_stream():
        return dlt.read_stream("st_src")

    @dlt.table
    def by_readstream_table():
        return spark.readStream.table("LIVE.st_src")

    @dlt.table
    def by_sql_live():
        return spark.sql("SELECT v FROM LIVE.src")

    @dlt.table
    def two_inputs():
        return dlt.read("by_dlt_read").unionByName(spark.read.table("by_read_table_live"))
"""


def test_dependencies_from_every_reader_form_and_deterministic_order(spark: Any, tmp_path: Path) -> None:
    p = pipeline(spark, tmp_path, "graph_deps", {"deps.py": DEPS}, [{"file": {"path": "deps.py"}}])
    graph = p.validate()
    for flow in (
        "by_dlt_read",
        "by_read_table_live",
        "by_spark_table_qualified",
        "by_spark_table_schema",
        "by_sql_live",
    ):
        assert graph.flows[flow].reads == {"src"}, flow
        assert graph.datasets[flow].kind is DatasetKind.MATERIALIZED_VIEW, flow
    for flow in ("by_read_stream", "by_readstream_table"):
        assert graph.flows[flow].reads == {"st_src"}, flow
        assert graph.datasets[flow].kind is DatasetKind.STREAMING_TABLE, flow
    assert graph.flows["two_inputs"].reads == {"by_dlt_read", "by_read_table_live"}
    order = graph.executable_flows()
    assert order == p.validate().executable_flows()  # deterministic
    for flow in graph.flows.values():
        for upstream in flow.reads:
            assert order.index(upstream) < order.index(flow.name)


def test_cycle_is_reported_with_its_path(spark: Any, tmp_path: Path) -> None:
    code = """
        import dlt

        @dlt.table
        def a():
            return dlt.read("c")

        @dlt.table
        def b():
            return dlt.read("a")

        @dlt.table
        def c():
            return spark.table("LIVE.b")
    """
    p = pipeline(spark, tmp_path, "graph_cycle", {"p.py": code}, [{"file": {"path": "p.py"}}])
    with pytest.raises(CircularDependencyError) as info:
        p.validate()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"} and len(cycle) == 4


def test_duplicate_dataset_across_files_names_both_locations(spark: Any, tmp_path: Path) -> None:
    one = "import dlt\n\n@dlt.table\ndef orders():\n    return spark.range(1)\n"
    two = "import dlt\n\n@dlt.view(name='orders')\ndef other():\n    return spark.range(1)\n"
    p = pipeline(
        spark, tmp_path, "graph_dup", {"t/one.py": one, "t/two.py": two}, [{"glob": {"include": "t/**"}}]
    )
    with pytest.raises(DuplicateDatasetError) as info:
        p.validate()
    assert info.value.name == "orders"
    assert "one.py" in info.value.first and "two.py" in info.value.second


def test_unknown_dataset_names_the_reader_and_suggests_close_names(spark: Any, tmp_path: Path) -> None:
    code = """
        import dlt

        @dlt.table
        def orders():
            return spark.range(1)

        @dlt.table
        def order_lines():
            return spark.range(1)

        @dlt.table
        def report():
            return dlt.read("ordres")
    """
    p = pipeline(spark, tmp_path, "graph_unknown", {"p.py": code}, [{"file": {"path": "p.py"}}])
    with pytest.raises(UnknownDatasetError) as info:
        p.validate()
    assert info.value.name == "ordres" and info.value.referenced_by == "report"
    assert "orders" in info.value.suggestions


def test_dataset_function_must_return_a_dataframe(spark: Any, tmp_path: Path) -> None:
    code = "import dlt\n\n@dlt.table\ndef not_a_df():\n    return [1, 2, 3]\n"
    p = pipeline(spark, tmp_path, "graph_nodf", {"p.py": code}, [{"file": {"path": "p.py"}}])
    with pytest.raises(InvalidQueryResultError) as info:
        p.validate()
    assert info.value.name == "not_a_df" and info.value.returned == "list"
    assert info.value.location.endswith("p.py:3")


FORBIDDEN = {
    "collect": "df.collect()",
    "count": "df.count()",
    "toPandas": "df.toPandas()",
    "save": "df.write.format('delta').save('/tmp/forbidden_save')",
    "saveAsTable": "df.write.saveAsTable('forbidden_tbl')",
    "start": "sdf.writeStream.format('console').start()",
    "toTable": "sdf.writeStream.toTable('forbidden_stream_tbl')",
}


@pytest.mark.parametrize("action", sorted(FORBIDDEN))
def test_forbidden_actions_name_the_dataset_and_source_line(spark: Any, tmp_path: Path, action: str) -> None:
    code = f"""
        import dlt

        @dlt.table(name="bad_{action.lower()}")
        def bad():
            df = spark.range(3)
            sdf = spark.readStream.format("rate").load()
            {FORBIDDEN[action]}  # the offending call
            return df
    """
    name = f"graph_forbid_{action.lower()}"
    p = pipeline(spark, tmp_path, name, {"p.py": code}, [{"file": {"path": "p.py"}}])
    with pytest.raises(ForbiddenActionError) as info:
        p.validate()
    source = tmp_path / "proj" / "p.py"
    assert info.value.action == action
    assert info.value.dataset == f"bad_{action.lower()}"
    assert info.value.location == f"{source}:{line_of(source, 'the offending call')}"


def test_actions_are_allowed_outside_dataset_functions(spark: Any, tmp_path: Path) -> None:
    code = """
        import dlt

        N = spark.range(4).count()  # module level: not a dataset function

        @dlt.table
        def sized():
            return spark.range(N)
    """
    p = pipeline(spark, tmp_path, "graph_toplevel", {"p.py": code}, [{"file": {"path": "p.py"}}])
    assert set(p.validate().datasets) == {"sized"}
    assert spark.range(2).count() == 2  # and the interception is gone after loading


def test_two_pipelines_with_a_utils_package_each_import_their_own(spark: Any, tmp_path: Path) -> None:
    """A `utils` package already imported (another pipeline, a library) must not shadow the pipeline's.

    Databricks runs each update in a fresh interpreter; one local process can load several pipelines.
    """
    loaded = []
    for name, value in (("first_utils", 1), ("second_utils", 2)):
        root = tmp_path / name
        write(
            root,
            {
                "utils/__init__.py": "",
                f"utils/only_in_{name}.py": f"VALUE = {value}\n",
                "transformations/t.py": f"""
                    import dlt
                    from utils.only_in_{name} import VALUE

                    @dlt.table(comment=str(VALUE))
                    def {name}_table():
                        return spark.range(VALUE)
                """,
            },
        )
        settings = {"name": name, "schema": name, "libraries": [{"glob": {"include": "transformations/**"}}]}
        graph = LocalPipeline(root, settings, state=tmp_path / f"state_{name}", spark=spark).validate()
        loaded.append(graph.datasets[f"{name}_table"].definition.comment)
    assert loaded == ["1", "2"]
    assert not any(m == "utils" or m.startswith("utils.") for m in sys.modules)
