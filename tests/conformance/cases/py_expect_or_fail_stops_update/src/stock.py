"""A hard rule: one bad record fails the update and nothing of that batch is written."""

import dlt


@dlt.table
@dlt.expect_or_fail("non_negative_qty", "qty >= 0")
def stock():
    return (
        spark.readStream.format("json").schema("sku STRING, qty INT").load("/Volumes/main/conf/landing/stock")
    )
