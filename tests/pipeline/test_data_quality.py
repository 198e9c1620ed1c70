"""Data-quality rules: names and defect coverage as docs/data-contract.md fixes them.

Unit tests check the rule catalogue against the contract's table; the Spark test feeds one line per
defect kind through the bronze schema and `prepare_order_events`, and requires each defect to fail
exactly the rules the contract lists (FALSE or NULL = failed).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pipeline_paths import REPO_ROOT

from pipeline.utils.data_quality import (
    CUSTOMER_RULES,
    ORDER_RULES,
    RULES,
    Severity,
    drop_expectations,
    failed_rules_sql,
    passes_all_sql,
    rule,
    warn_expectations,
)


def contract_table() -> dict[str, tuple[str, ...]]:
    """defect kind -> rules it fails, parsed from the 'Defects injected on purpose' table."""
    text = (REPO_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    section = text.split("## Defects injected on purpose", 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[str, ...]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        kind = cells[0].strip("`")
        same = re.match(r"same as `(\w+)`", cells[2])
        table[kind] = table[same.group(1)] if same else tuple(re.findall(r"`(\w+)`", cells[2]))
    return table


@pytest.mark.unit
def test_rule_names_are_the_contracts() -> None:
    contract = contract_table()
    assert len(contract) == 16
    named = {r for rules in contract.values() for r in rules}
    assert named == {r.name for r in ORDER_RULES}
    assert len(RULES) == len(ORDER_RULES) + len(CUSTOMER_RULES)  # names are unique


@pytest.mark.unit
def test_severities_split_the_expectation_maps() -> None:
    assert set(drop_expectations()) == {r.name for r in ORDER_RULES}
    assert warn_expectations() == {}
    assert set(warn_expectations(CUSTOMER_RULES)) == {"customer_change_keyed", "customer_operation_known"}
    assert all(r.severity is Severity.WARN for r in CUSTOMER_RULES)
    assert rule("has_items").constraint == "size(items) > 0"
    with pytest.raises(KeyError, match="known"):
        rule("no_such_rule")


@pytest.mark.unit
def test_sql_treats_null_as_failed() -> None:
    two = ORDER_RULES[:2]
    assert (
        passes_all_sql(two)
        == "coalesce((_corrupt_record IS NULL), false) AND coalesce((order_id IS NOT NULL AND trim(order_id) <> ''), false)"
    )
    assert failed_rules_sql(two).startswith(
        "filter(array(CASE WHEN coalesce((_corrupt_record IS NULL), false) THEN NULL ELSE 'record_parseable' END"
    )


BRONZE_SCHEMA = (
    "event_id STRING, order_id STRING, customer_id STRING, status STRING, event_time STRING, order_time STRING, "
    "currency STRING, channel STRING, payment_method STRING, coupon_code STRING, "
    "shipping_address STRUCT<street: STRING, city: STRING, postal_code: STRING, country: STRING>, "
    "shipping_cost DOUBLE, items ARRAY<STRUCT<sku: STRING, quantity: STRING, unit_price: STRING, discount: STRING>>, "
    "_corrupt_record STRING, _rescued_data STRING"
)

VALID: dict[str, Any] = {
    "event_id": "E00001-0000001",
    "order_id": "ORD-000000001",
    "customer_id": "CUST-0000001",
    "status": "paid",
    "event_time": "2026-01-01T10:00:00Z",
    "order_time": "2026-01-01T09:59:00Z",
    "currency": "EUR",
    "channel": "web",
    "payment_method": "card",
    "coupon_code": None,
    "shipping_address": {"street": "Main 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "shipping_cost": 4.99,
    "items": [{"sku": "SKU-00001", "quantity": 2, "unit_price": 10.00, "discount": 1.00}],
}


def _variant(**changes: Any) -> str:
    record = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is KeyError:
            record.pop(key)
        else:
            record[key] = value
    return json.dumps(record)


def _item(**changes: Any) -> list[dict[str, Any]]:
    return [VALID["items"][0] | changes]


def defect_lines() -> dict[str, str]:
    valid = json.dumps(VALID)
    return {
        "valid": valid,
        "null_order_id": _variant(order_id=None),
        "missing_order_id": _variant(order_id=KeyError),
        "null_customer_id": _variant(customer_id=None),
        "missing_customer_id": _variant(customer_id=KeyError),
        "non_positive_quantity": _variant(items=_item(quantity=0)),
        "negative_price": _variant(items=_item(unit_price=-3.5)),
        "unknown_status": _variant(status="teleported"),
        "future_timestamp": _variant(event_time="2126-01-01T10:00:00Z"),
        "wrong_type": _variant(items=_item(quantity="two")),
        "oversized_line": _variant(items=_item() * 1000),
        "non_utf8": _variant(shipping_address=VALID["shipping_address"] | {"city": "\ufffd\ufffdBerlin"}),
        "malformed_json": valid[: len(valid) // 2],
        "truncated_last_line": valid[:-7],
        # Auto Loader rescues the object that does not fit the pinned DOUBLE (the plain reader cannot)
        "drift_shipping_object": _variant(
            shipping_cost=KeyError, _rescued_data='{"shipping_cost":{"amount":6.99,"currency":"EUR"}}'
        ),
    }


@pytest.mark.spark
def test_each_defect_fails_exactly_the_contracts_rules(spark: Any) -> None:
    from pyspark.sql import functions as F

    from pipeline.utils.silver import prepare_order_events

    lines = defect_lines()
    kinds = list(lines)
    rows = (
        spark.read.schema(BRONZE_SCHEMA)
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(spark.sparkContext.parallelize([lines[k] for k in kinds], 1))
    )
    # Auto Loader keeps a record that is not a JSON object with every column NULL (docs/autoloader.md)
    parsed = [c for c in rows.columns if c != "_corrupt_record"]
    bronze = rows.select(
        *[F.when(F.col("_corrupt_record").isNull(), F.col(c)).alias(c) for c in parsed],
        "_corrupt_record",
        F.current_timestamp().alias("_ingested_at"),
        F.lit("file:/x/orders_b00001_20260102T000000Z_p00.json").alias("_source_file"),
        F.lit(1).alias("_batch_id"),
        F.current_timestamp().alias("_file_modification_time"),
    )
    events = prepare_order_events(bronze).withColumn("failed", F.expr(failed_rules_sql(ORDER_RULES)))
    got = [tuple(r["failed"]) for r in events.select("failed").collect()]
    failed = dict(zip(kinds, got, strict=True))
    contract = contract_table()
    for kind, rules in failed.items():
        expected = contract.get(kind, ())
        assert rules == tuple(r.name for r in ORDER_RULES if r.name in expected), kind
    drift = events.collect()[kinds.index("drift_shipping_object")]
    assert str(drift["shipping_cost"]) == "6.99"
    valid = events.collect()[0]
    assert (
        valid["items"][0]["quantity"],
        str(valid["items"][0]["unit_price"]),
        str(valid["shipping_cost"]),
    ) == (2, "10.00", "4.99")
