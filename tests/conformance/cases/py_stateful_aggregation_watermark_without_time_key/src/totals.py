import dlt
from pyspark.sql import functions as F


@dlt.table
def events():
    return (
        spark.readStream.format("json")
        .schema("id INT, k STRING, ts TIMESTAMP, v INT")
        .load("/Volumes/main/conf/landing/events")
    )


dlt.create_streaming_table("totals_by_key")


@dlt.append_flow(target="totals_by_key")
def totals_flow():
    return (
        dlt.read_stream("events")
        .withWatermark("ts", "10 minutes")
        .groupBy("k")
        .agg(F.sum("v").alias("total"))
    )
