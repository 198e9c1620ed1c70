"""The quarantine pattern: one rule set drops bad rows from the clean table and routes them aside."""

import dlt

RULES = {"valid_price": "price > 0", "has_sku": "sku IS NOT NULL"}
ANY_RULE_BROKEN = "NOT (({}))".format(") AND (".join(RULES.values()))


@dlt.view
def raw_items():
    return (
        spark.readStream.format("json")
        .schema("sku STRING, price DOUBLE")
        .load("/Volumes/main/conf/landing/items")
    )


@dlt.table
@dlt.expect_all_or_drop(RULES)
def items_clean():
    return dlt.read_stream("raw_items")


@dlt.table(comment="Rows breaking at least one rule, kept for inspection")
def items_quarantine():
    return dlt.read_stream("raw_items").where(ANY_RULE_BROKEN)
