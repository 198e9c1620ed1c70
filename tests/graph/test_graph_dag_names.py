"""Issue 3, point 2 (unit tier): the pure DAG and dataset-name resolution, without a JVM."""

from __future__ import annotations

import pytest

from harness.errors import CircularDependencyError
from harness.graph.dag import DAG
from harness.graph.names import PipelineNames

pytestmark = pytest.mark.unit


def test_topological_order_is_deterministic_with_ties_broken_by_name() -> None:
    edges = [("raw", "silver"), ("raw", "audit"), ("silver", "gold"), ("dim", "gold")]
    orders = {
        tuple(DAG(["zeta", "raw", "dim", "silver", "gold", "audit"], e).topological_order())
        for e in (edges, edges[::-1])
    }
    assert orders == {("dim", "raw", "audit", "silver", "gold", "zeta")}


def test_every_edge_goes_upstream_first() -> None:
    dag = DAG(edges=[("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")])
    order = dag.topological_order()
    for upstream, downstream in [("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")]:
        assert order.index(upstream) < order.index(downstream)


def test_upstream_downstream_ancestors_descendants() -> None:
    dag = DAG(edges=[("a", "b"), ("b", "c"), ("x", "c"), ("c", "d")])
    assert dag.upstream("c") == {"b", "x"}
    assert dag.downstream("b") == {"c"}
    assert dag.ancestors("d") == {"a", "b", "c", "x"}
    assert dag.descendants("a") == {"b", "c", "d"}
    assert dag.ancestors("a") == set()


def test_cycle_error_prints_the_path() -> None:
    dag = DAG(edges=[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    assert dag.find_cycle() == ["a", "b", "c", "a"]
    with pytest.raises(CircularDependencyError) as info:
        dag.topological_order()
    assert info.value.cycle == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(info.value)


def test_self_loop_is_a_cycle() -> None:
    assert DAG(edges=[("t", "t")]).find_cycle() == ["t", "t"]


def test_acyclic_graph_has_no_cycle_and_subgraph_keeps_inner_edges() -> None:
    dag = DAG(edges=[("a", "b"), ("b", "c"), ("c", "d")])
    assert dag.find_cycle() is None
    sub = dag.subgraph(["b", "c", "d"])
    assert sub.nodes == ["b", "c", "d"]
    assert sub.topological_order() == ["b", "c", "d"]
    assert sub.upstream("b") == set()


NAMES = PipelineNames(catalog="Main", schema="Sales")


@pytest.mark.parametrize(
    "name",
    [
        "orders",
        "ORDERS",
        "LIVE.orders",
        "live.Orders",
        "Sales.orders",
        "main__sales.orders",
        "Main.Sales.orders",
        "`main`.`sales`.`orders`",
    ],
)
def test_bare_live_and_qualified_names_address_the_pipeline_dataset(name: str) -> None:
    assert NAMES.internal_key(name) == "orders"


@pytest.mark.parametrize("name", ["other.orders", "main.other.orders", "other_cat.sales.orders"])
def test_other_schemas_are_external(name: str) -> None:
    assert NAMES.internal_key(name) is None


def test_local_table_maps_catalog_schema_to_one_database() -> None:
    assert NAMES.database == "main__sales"
    assert NAMES.local_table("orders") == ("main__sales", "orders")
    assert NAMES.local_table("ref.customers") == ("ref", "customers")
    assert NAMES.local_table("samples.tpch.orders") == ("samples__tpch", "orders")
    assert PipelineNames(None, "legacy_target").database == "legacy_target"


def test_sql_rewrite_maps_live_and_three_part_names() -> None:
    query = "SELECT * FROM LIVE.orders o JOIN main.sales.customers c ON o.id = c.id JOIN other.x USING (id)"
    assert NAMES.rewrite_sql(query) == (
        "SELECT * FROM main__sales.orders o JOIN main__sales.customers c ON o.id = c.id JOIN other.x USING (id)"
    )


def test_sql_references_find_only_qualified_or_live_names_of_pipeline_datasets() -> None:
    query = "SELECT * FROM LIVE.orders JOIN `main`.`sales`.`customers` USING (id) JOIN orders_archive"
    assert NAMES.sql_references(query, ["orders", "customers", "orders_archive", "items"]) == [
        "customers",
        "orders",
    ]


def test_bind_sql_points_datasets_at_their_views() -> None:
    query = "SELECT * FROM LIVE.orders o JOIN main.sales.customers c ON o.id = c.id JOIN LIVE.other"
    bound = NAMES.bind_sql(query, {"orders": "v_o", "customers": "v_c"})
    assert bound == "SELECT * FROM `v_o` o JOIN `v_c` c ON o.id = c.id JOIN main__sales.other"
