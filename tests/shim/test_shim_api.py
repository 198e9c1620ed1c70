"""Issue 3, point 1: the `dlt` API surface, checked against Databricks' signatures (no JVM).

The oracle is Databricks' classic `dlt` interface (databricks-dlt 0.3.0 `dlt/api.py`) and the
documented `dp` parameters (shared/reference/dlt-semantics.md §2.1-§2.2): every public name exists,
keyword names and positional order match, bare and called decorator forms register the same
records, deprecated aliases warn, and `from pyspark import pipelines as dp` modules are captured
through pyspark's own registration context while the shim is `dlt` only during loading.
"""

from __future__ import annotations

import inspect
import sys
import types
import warnings

import pytest

from harness.errors import DefinitionError, DuplicateDatasetError, OutsidePipelineError
from harness.shim import dlt_api
from harness.shim.dp_bridge import DATABRICKS_ONLY_NAMES
from harness.shim.injection import dlt_visible
from harness.shim.records import DatasetKind, ExpectationAction
from harness.shim.registry import PipelineRegistry, registration_context

pytestmark = pytest.mark.unit

#: Positional-or-keyword parameters of the classic `dlt` functions, in Databricks' order (§2.1).
CLASSIC_SIGNATURES: dict[str, list[str]] = {
    "table": [
        "query_function", "name", "comment", "spark_conf", "table_properties", "partition_cols",
        "path", "schema", "temporary", "cluster_by", "row_filter",
    ],
    "view": ["query_function", "name", "comment", "spark_conf"],
    "append_flow": ["name", "target", "comment", "spark_conf", "once"],
    "on_event_hook": ["user_event_hook_fn", "max_allowable_consecutive_failures"],
    "expect": ["name", "inv"],
    "expect_or_drop": ["name", "inv"],
    "expect_or_fail": ["name", "inv"],
    "expect_all": ["expectations"],
    "expect_all_or_drop": ["expectations"],
    "expect_all_or_fail": ["expectations"],
    "read": ["name"],
    "read_stream": ["name"],
    "create_streaming_table": [
        "name", "comment", "spark_conf", "table_properties", "partition_cols", "path", "schema",
        "expect_all", "expect_all_or_drop", "expect_all_or_fail", "cluster_by", "row_filter",
    ],
    "apply_changes": [
        "target", "source", "keys", "sequence_by", "where", "ignore_null_updates", "apply_as_deletes",
        "apply_as_truncates", "column_list", "except_column_list", "stored_as_scd_type",
        "track_history_column_list", "track_history_except_column_list", "flow_name", "once",
        "ignore_null_updates_column_list", "ignore_null_updates_except_column_list", "columns_to_update",
    ],
    "apply_changes_from_snapshot": [
        "target", "source", "keys", "stored_as_scd_type", "snapshot_and_version",
        "track_history_column_list", "track_history_except_column_list",
    ],
}  # fmt: skip

#: Keyword names Databricks documents for the newer (`dp`-era) names (§2.2); order not specified.
NEWER_KEYWORDS: dict[str, set[str]] = {
    "table": {"private", "cluster_by_auto"},
    "materialized_view": {
        "name", "comment", "spark_conf", "table_properties", "path", "partition_cols", "cluster_by_auto",
        "cluster_by", "schema", "refresh_policy", "row_filter", "private",
    },
    "temporary_view": {"name", "comment", "spark_conf"},
    "create_streaming_table": {"cluster_by_auto", "private"},
    "create_auto_cdc_flow": {
        "target", "source", "keys", "sequence_by", "ignore_null_updates", "apply_as_deletes",
        "apply_as_truncates", "column_list", "except_column_list", "stored_as_scd_type",
        "track_history_column_list", "track_history_except_column_list", "name", "once",
        "ignore_null_updates_column_list", "ignore_null_updates_except_column_list", "columns_to_update",
    },
    "create_auto_cdc_from_snapshot_flow": {
        "target", "source", "keys", "stored_as_scd_type", "track_history_column_list",
        "track_history_except_column_list", "once",
    },
    "create_sink": {"name", "format", "options"},
    "foreach_batch_sink": {"name"},
}  # fmt: skip

DEPRECATED = {
    "create_table": "table",
    "create_view": "view",
    "create_target_table": "create_streaming_table",
    "create_streaming_live_table": "create_streaming_table",
}


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


# --- names and signatures -------------------------------------------------------------------------


def test_every_public_name_exists_and_is_exported() -> None:
    expected = set(CLASSIC_SIGNATURES) | set(NEWER_KEYWORDS) | set(DEPRECATED) | {"readStream"}
    assert expected <= set(dlt_api.__all__)
    for name in expected:
        assert callable(getattr(dlt_api, name)), name


@pytest.mark.parametrize("name", sorted(CLASSIC_SIGNATURES))
def test_classic_signature_matches_databricks(name: str) -> None:
    params = inspect.signature(getattr(dlt_api, name)).parameters
    positional = [p.name for p in params.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional[: len(CLASSIC_SIGNATURES[name])] == CLASSIC_SIGNATURES[name]


def test_classic_defaults_match_databricks() -> None:
    table = inspect.signature(dlt_api.table).parameters
    assert table["temporary"].default is False
    assert all(table[p].default is None for p in ("name", "comment", "path", "schema", "cluster_by"))
    assert inspect.signature(dlt_api.append_flow).parameters["once"].default is False
    assert inspect.signature(dlt_api.apply_changes).parameters["stored_as_scd_type"].default == "1"
    hook = inspect.signature(dlt_api.on_event_hook).parameters
    assert hook["max_allowable_consecutive_failures"].default is None


@pytest.mark.parametrize("name", sorted(NEWER_KEYWORDS))
def test_newer_keywords_are_accepted(name: str) -> None:
    assert NEWER_KEYWORDS[name] <= set(_params(getattr(dlt_api, name)))


def test_read_stream_alias() -> None:
    assert dlt_api.readStream is dlt_api.read_stream


# --- decorator forms -------------------------------------------------------------------------------


def _load(body: types.FunctionType) -> PipelineRegistry:
    registry = PipelineRegistry()
    with registration_context(registry):
        body()
    return registry


def test_bare_and_called_forms_register_the_same_records() -> None:
    def body() -> None:
        @dlt_api.table
        def bare_table() -> None: ...

        @dlt_api.table(name="called_table", comment="c")
        def ignored_name() -> None: ...

        @dlt_api.view
        def bare_view() -> None: ...

        @dlt_api.view(name="called_view")
        def other() -> None: ...

        @dlt_api.materialized_view
        def bare_mv() -> None: ...

        @dlt_api.materialized_view(name="called_mv")
        def other_mv() -> None: ...

        @dlt_api.temporary_view
        def bare_tv() -> None: ...

        @dlt_api.temporary_view(name="called_tv")
        def other_tv() -> None: ...

        @dlt_api.on_event_hook
        def hook_a(event: dict) -> None: ...

        @dlt_api.on_event_hook(max_allowable_consecutive_failures=2)
        def hook_b(event: dict) -> None: ...

        @dlt_api.foreach_batch_sink
        def sink_a(df: object, batch_id: int) -> None: ...

        @dlt_api.foreach_batch_sink(name="sink_b")
        def handler(df: object, batch_id: int) -> None: ...

    registry = _load(body)
    kinds = {name: d.kind for name, d in registry.datasets.items()}
    assert kinds == {
        "bare_table": DatasetKind.TABLE,
        "called_table": DatasetKind.TABLE,
        "bare_view": DatasetKind.VIEW,
        "called_view": DatasetKind.VIEW,
        "bare_mv": DatasetKind.MATERIALIZED_VIEW,
        "called_mv": DatasetKind.MATERIALIZED_VIEW,
        "bare_tv": DatasetKind.VIEW,
        "called_tv": DatasetKind.VIEW,
        "sink_a": DatasetKind.SINK,
        "sink_b": DatasetKind.SINK,
    }
    # every table/view gets one default flow of the same name; sinks have none of their own
    assert {n for n, f in registry.flows.items() if f.is_default} == set(kinds) - {"sink_a", "sink_b"}
    assert registry.datasets["called_table"].comment == "c"
    assert [h.max_allowable_consecutive_failures for h in registry.hooks] == [None, 2]


def test_decorator_returns_the_function_and_records_its_line() -> None:
    seen: dict[str, object] = {}

    def body() -> None:
        def f() -> None: ...

        seen["returned"] = dlt_api.table(f)
        seen["func"] = f

    registry = _load(body)
    assert seen["returned"] is seen["func"]
    location = registry.datasets["f"].location
    assert location.path == __file__ and location.line is not None


def test_private_temporary_and_cluster_by_auto_are_recorded() -> None:
    def body() -> None:
        @dlt_api.table(temporary=True)
        def temp_t() -> None: ...

        @dlt_api.table(private=True, cluster_by_auto=True, cluster_by=["a"])
        def priv_t() -> None: ...

        @dlt_api.materialized_view(private=True, cluster_by_auto=True)
        def priv_mv() -> None: ...

        dlt_api.create_streaming_table("priv_st", private=True, cluster_by_auto=True)

    ds = _load(body).datasets
    assert ds["temp_t"].private and ds["priv_t"].private and ds["priv_mv"].private and ds["priv_st"].private
    assert ds["priv_t"].cluster_by_auto and ds["priv_mv"].cluster_by_auto and ds["priv_st"].cluster_by_auto
    assert ds["priv_t"].cluster_by == ("a",)


def test_expectation_decorators_attach_rules_in_declaration_order() -> None:
    def body() -> None:
        @dlt_api.table
        @dlt_api.expect("w", "a > 0")
        @dlt_api.expect_or_drop("d", "b IS NOT NULL")
        @dlt_api.expect_or_fail("f", "c < 10")
        @dlt_api.expect_all({"w2": "x = 1", "w3": "y = 2"})
        @dlt_api.expect_all_or_drop({"d2": "z = 3"})
        @dlt_api.expect_all_or_fail({"f2": "q = 4"})
        def checked() -> None: ...

        dlt_api.create_streaming_table(
            "target_st",
            expect_all={"a": "a = 1"},
            expect_all_or_drop={"b": "b = 1"},
            expect_all_or_fail={"c": "c = 1"},
        )

    registry = _load(body)
    rules = registry.flows["checked"].expectations
    assert [(r.name, r.constraint, r.action) for r in rules] == [
        ("w", "a > 0", ExpectationAction.WARN),
        ("d", "b IS NOT NULL", ExpectationAction.DROP),
        ("f", "c < 10", ExpectationAction.FAIL),
        ("w2", "x = 1", ExpectationAction.WARN),
        ("w3", "y = 2", ExpectationAction.WARN),
        ("d2", "z = 3", ExpectationAction.DROP),
        ("f2", "q = 4", ExpectationAction.FAIL),
    ]
    target = registry.datasets["target_st"].expectations
    assert [(r.name, r.action) for r in target] == [
        ("a", ExpectationAction.WARN),
        ("b", ExpectationAction.DROP),
        ("c", ExpectationAction.FAIL),
    ]


def test_duplicate_expectation_name_on_one_dataset_is_rejected() -> None:
    def body() -> None:
        @dlt_api.table
        @dlt_api.expect("same", "a > 0")
        @dlt_api.expect("same", "b > 0")
        def dup() -> None: ...

    with pytest.raises(DefinitionError) as info:
        _load(body)
    assert info.value.name == "dup"


def test_first_positional_argument_must_be_callable() -> None:
    registry = PipelineRegistry()
    with registration_context(registry):
        for decorator in (dlt_api.table, dlt_api.view, dlt_api.on_event_hook):
            with pytest.raises(DefinitionError):
                decorator("not_a_function")  # type: ignore[arg-type]
    assert not registry.datasets


def test_decorators_outside_a_pipeline_raise_outside_pipeline_error() -> None:
    def f() -> None: ...

    with pytest.raises(OutsidePipelineError) as info:
        dlt_api.table(f)
    assert info.value.api == "dlt.table"
    with pytest.raises(OutsidePipelineError):
        dlt_api.read("anything")


def test_duplicate_dataset_names_the_two_locations() -> None:
    def body() -> None:
        @dlt_api.table(name="orders")
        def a() -> None: ...

        @dlt_api.view(name="orders")
        def b() -> None: ...

    with pytest.raises(DuplicateDatasetError) as info:
        _load(body)
    assert info.value.name == "orders" and info.value.kind == "dataset"
    assert info.value.first.startswith(__file__) and info.value.second.startswith(__file__)
    assert info.value.first != info.value.second


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED.items()))
def test_deprecated_aliases_warn_and_delegate(old: str, new: str) -> None:
    registry = PipelineRegistry()
    with registration_context(registry), pytest.warns(DeprecationWarning, match=f"{old}.*{new}"):
        if new == "create_streaming_table":
            getattr(dlt_api, old)("via_" + old)
        else:

            @getattr(dlt_api, old)(name="via_" + old)
            def f() -> None: ...

    dataset = registry.datasets["via_" + old]
    expected = {"table": DatasetKind.TABLE, "view": DatasetKind.VIEW}.get(new, DatasetKind.STREAMING_TABLE)
    assert dataset.kind is expected
    assert any(old in w for w in registry.warnings)  # also reported as a pipeline warning


def test_cdc_and_flow_declarations_register_flows_with_databricks_defaults() -> None:
    def body() -> None:
        dlt_api.create_streaming_table("t1")
        dlt_api.apply_changes(target="t1", source="src", keys=["id"], sequence_by="seq")
        dlt_api.create_streaming_table("t2")
        dlt_api.create_auto_cdc_flow(
            target="t2", source="src", keys=["id"], sequence_by="seq", stored_as_scd_type=2, name="cdc2"
        )
        dlt_api.create_streaming_table("t3")
        dlt_api.create_auto_cdc_from_snapshot_flow(target="t3", source="snap", keys=["id"])

        @dlt_api.append_flow(target="t1", once=True)
        def backfill() -> None: ...

    flows = _load(body).flows
    assert flows["t1"].stored_as_scd_type == 1 and flows["t1"].keys == ("id",)  # flow_name defaults to target
    assert flows["cdc2"].stored_as_scd_type == 2
    assert flows["t3"].source == "snap"
    assert flows["backfill"].once and flows["backfill"].target == "t1" and not flows["backfill"].is_default


# --- dp modules through pyspark's registration hook -----------------------------------------------


DP_MODULE = """
from pyspark import pipelines as dp

@dp.table
def st_or_mv():
    return None

@dp.materialized_view(name="mv", comment="an mv", table_properties={"k": "v"})
@dp.expect_or_drop("positive", "x > 0")
def mv_fn():
    return None

@dp.temporary_view
def tv():
    return None

dp.create_streaming_table("target")

@dp.append_flow(target="target")
def into_target():
    return None

dp.create_auto_cdc_flow(target="target", source="tv", keys=["id"], sequence_by="seq", name="cdc")

@dp.on_event_hook(max_allowable_consecutive_failures=1)
def hook(event):
    pass
"""


def test_dp_module_is_captured_through_pyspark_registration_hook(tmp_path) -> None:
    pytest.importorskip("pyspark.pipelines.graph_element_registry")
    import pyspark.pipelines as dp
    from pyspark.pipelines import graph_element_registry

    path = tmp_path / "dp_module.py"
    path.write_text(DP_MODULE)
    originals = {name: getattr(dp, name) for name in dp.__all__}
    registry = PipelineRegistry()
    with dlt_visible(registry):
        # pyspark's own context var holds our registry: nothing in pyspark is replaced
        assert type(graph_element_registry.get_active_graph_element_registry()).__name__ == (
            "HarnessGraphElementRegistry"
        )
        assert {name: getattr(dp, name) for name in dp.__all__} == originals
        for name in DATABRICKS_ONLY_NAMES:
            assert callable(getattr(dp, name)), name
        exec(compile(path.read_text(), str(path), "exec"), {"__name__": "dp_module"})
    ds = registry.datasets
    assert ds["st_or_mv"].kind is DatasetKind.TABLE and ds["st_or_mv"].api == "dp.table"
    assert ds["mv"].kind is DatasetKind.MATERIALIZED_VIEW and ds["mv"].comment == "an mv"
    assert dict(ds["mv"].table_properties) == {"k": "v"}
    assert ds["tv"].kind is DatasetKind.VIEW
    assert ds["target"].kind is DatasetKind.STREAMING_TABLE
    assert [(e.name, e.action) for e in registry.flows["mv"].expectations] == [
        ("positive", ExpectationAction.DROP)
    ]
    assert registry.flows["into_target"].target == "target" and not registry.flows["into_target"].is_default
    assert registry.flows["cdc"].source == "tv"
    assert [h.max_allowable_consecutive_failures for h in registry.hooks] == [1]
    assert ds["mv"].location.path == str(path) and ds["mv"].location.line is not None
    # afterwards: the Databricks-only names are gone again and pyspark has no active registry
    for name in DATABRICKS_ONLY_NAMES:
        if name not in originals:
            assert not hasattr(dp, name), name
    with pytest.raises(Exception, match="GRAPH_ELEMENT_DEFINED_OUTSIDE_OF_DECLARATIVE_PIPELINE"):
        graph_element_registry.get_active_graph_element_registry()


# --- the shim as `dlt` only while loading -----------------------------------------------------------


def test_shim_is_dlt_only_while_loading_and_previous_entry_is_restored() -> None:
    sentinel = types.ModuleType("dlt")
    sentinel.IS_OTHER_DLT = True  # e.g. dltHub's `dlt`, or Databricks' stub
    previous = sys.modules.get("dlt")
    sys.modules["dlt"] = sentinel
    try:
        with dlt_visible(PipelineRegistry()):
            import dlt

            assert dlt is dlt_api
        assert sys.modules["dlt"] is sentinel
        with pytest.raises(RuntimeError), dlt_visible(PipelineRegistry()):
            raise RuntimeError("a failing source file")
        assert sys.modules["dlt"] is sentinel
    finally:
        if previous is None:
            sys.modules.pop("dlt", None)
        else:
            sys.modules["dlt"] = previous


def test_no_dlt_entry_is_left_behind_when_there_was_none() -> None:
    previous = sys.modules.pop("dlt", None)
    try:
        with dlt_visible(PipelineRegistry()):
            assert sys.modules["dlt"] is dlt_api
        assert "dlt" not in sys.modules
    finally:
        if previous is not None:
            sys.modules["dlt"] = previous


def test_deprecation_warning_points_at_the_caller() -> None:
    registry = PipelineRegistry()
    with registration_context(registry), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dlt_api.create_target_table("x")
    assert caught and caught[0].category is DeprecationWarning
    assert caught[0].filename == __file__
