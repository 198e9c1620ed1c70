"""Schema hints, evolution merges and case handling (no JVM: types are parsed by a stub)."""

from __future__ import annotations

import pytest
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from harness.autoloader.schema import apply_hints, dedupe_case, merge_new_fields, parse_hints
from harness.errors import InvalidOptionValueError

pytestmark = pytest.mark.unit

TYPES: dict[str, DataType] = {
    "BIGINT": LongType(),
    "INT": IntegerType(),
    "STRING": StringType(),
    "DECIMAL(18,2)": DecimalType(18, 2),
}


def parse_type(text: str) -> DataType:
    return TYPES[text.upper()]


def s(*fields: tuple[str, DataType]) -> StructType:
    return StructType([StructField(n, t, True) for n, t in fields])


ORDERS = s(
    ("order_id", StringType()),
    ("amount", StringType()),
    ("address", s(("city", StringType()), ("zip", StringType()))),
    ("items", ArrayType(s(("sku", StringType()), ("qty", StringType())))),
)


def test_parse_hints_handles_nested_types_backquotes_and_constraints() -> None:
    hints = parse_hints(
        "id BIGINT, `a.b`.c DECIMAL(18,2), m map<string,array<int>> NOT NULL, x INT COMMENT 'y'"
    )
    assert [(h.path, h.type_text) for h in hints] == [
        (("id",), "BIGINT"),
        (("a.b", "c"), "DECIMAL(18,2)"),
        (("m",), "map<string,array<int>>"),
        (("x",), "INT"),
    ]


def test_hints_pin_top_level_nested_and_array_element_types() -> None:
    hinted = apply_hints(
        ORDERS, parse_hints("amount DECIMAL(18,2), address.zip INT, items.element.qty INT"), parse_type
    )
    assert hinted["amount"].dataType == DecimalType(18, 2)
    assert hinted["address"].dataType == s(("city", StringType()), ("zip", IntegerType()))
    assert hinted["items"].dataType == ArrayType(s(("sku", StringType()), ("qty", IntegerType())))


def test_hints_add_missing_columns_and_match_case_insensitively() -> None:
    hinted = apply_hints(
        ORDERS, parse_hints("ORDER_ID BIGINT, _corrupt_record STRING, extra.inner INT"), parse_type
    )
    assert hinted["order_id"].dataType == LongType()
    assert hinted.fieldNames()[-2:] == ["_corrupt_record", "extra"]
    assert hinted["extra"].dataType == s(("inner", IntegerType()))


def test_bad_hints_name_the_entry() -> None:
    with pytest.raises(InvalidOptionValueError) as info:
        apply_hints(ORDERS, parse_hints("amount.value INT"), parse_type)
    assert info.value.option == "cloudFiles.schemaHints"
    with pytest.raises(InvalidOptionValueError):
        parse_hints("justaname")


def test_merge_appends_new_columns_and_nested_fields_keeping_existing_types() -> None:
    observed = s(
        ("ORDER_ID", LongType()),  # case variant of an existing column: not new
        ("amount", LongType()),  # type disagreement: existing type kept
        ("address", s(("city", StringType()), ("country", StringType()))),
        ("items", ArrayType(s(("sku", StringType()), ("gift", StringType())))),
        ("gift_wrap", StringType()),
    )
    merged, added = merge_new_fields(ORDERS, observed)
    assert added == ["address.country", "items.element.gift", "gift_wrap"]
    assert merged["amount"].dataType == StringType()
    assert merged.fieldNames() == ["order_id", "amount", "address", "items", "gift_wrap"]
    assert merged["address"].dataType.fieldNames() == ["city", "zip", "country"]
    assert merge_new_fields(merged, observed)[1] == []


def test_dedupe_case_prefers_lower_case_spelling() -> None:
    deduped = dedupe_case(s(("Name", StringType()), ("id", LongType()), ("name", StringType())))
    assert isinstance(deduped, StructType)
    assert deduped.fieldNames() == ["id", "name"]
