"""Intermediate results kept inside the pipeline: a legacy temporary table, a private table, a view."""

import dlt
from pyspark.sql import functions as F


@dlt.table(temporary=True, comment="Legacy spelling of a private table")
def staged_prices():
    return spark.createDataFrame([("a", 2.0), ("b", 3.0)], "sku STRING, price DOUBLE")


@dlt.table(private=True)
def fx_rates():
    return spark.createDataFrame([("EUR", 1.0), ("USD", 0.5)], "ccy STRING, rate DOUBLE")


@dlt.view
def priced():
    return dlt.read("staged_prices").crossJoin(dlt.read("fx_rates"))


@dlt.table
def price_list():
    return dlt.read("priced").select("sku", "ccy", (F.col("price") * F.col("rate")).alias("amount"))
