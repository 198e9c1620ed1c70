"""The newer AUTO CDC spelling: SCD type 2 history of product prices, versions as the sequence."""

import dlt
from pyspark.sql import functions as F


@dlt.view
def product_changes():
    return (
        spark.readStream.format("json")
        .schema("sku STRING, price DOUBLE, version INT")
        .load("/Volumes/main/conf/landing/products")
    )


dlt.create_streaming_table("products")

dlt.create_auto_cdc_flow(
    target="products",
    source="product_changes",
    keys=["sku"],
    sequence_by=F.col("version"),
    stored_as_scd_type=2,
)
