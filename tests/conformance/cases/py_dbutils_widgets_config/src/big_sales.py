"""A notebook-style parameter read with dbutils.widgets: the pipeline configuration supplies it."""

import dlt
from pyspark.sql import functions as F

dbutils.widgets.text("min_total", "100")
dbutils.widgets.text("currency", "EUR")


@dlt.table
def big_sales():
    threshold = float(dbutils.widgets.get("min_total"))
    return (
        spark.read.format("json")
        .load("/Volumes/main/conf/landing/sales")
        .where(F.col("total") >= threshold)
        .select("sale_id", "total", F.lit(dbutils.widgets.get("currency")).alias("currency"))
    )
