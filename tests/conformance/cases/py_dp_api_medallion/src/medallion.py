"""The open-source `pyspark.pipelines` spelling: a streaming table and a materialized view over it."""

from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.table(comment="Click and purchase events as they land")
def events_bronze():
    return (
        spark.readStream.format("json")
        .schema("user STRING, action STRING, amount DOUBLE")
        .load("/Volumes/main/conf/landing/events")
    )


@dp.materialized_view(comment="Spend per user, recomputed from the whole bronze table each update")
def spend_per_user():
    return (
        spark.read.table("events_bronze")
        .where("action = 'buy'")
        .groupBy("user")
        .agg(F.sum("amount").alias("spent"), F.count("*").alias("purchases"))
    )
