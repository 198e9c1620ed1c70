import dlt
from pyspark.sql import functions as F


@dlt.table
def events():
    return (
        spark.readStream.format("json")
        .schema("id INT, k STRING, ts TIMESTAMP, v INT")
        .load("/Volumes/main/conf/landing/events")
    )


@dlt.table
def windows():
    return (
        dlt.read_stream("events")
        .withWatermark("ts", "10 minutes")
        .groupBy(F.window("ts", "5 minutes"), "k")
        .agg(F.sum("v").alias("total"))
        .select(F.col("window.start").alias("start"), "k", "total")
    )
