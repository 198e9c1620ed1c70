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
@dlt.expect("big_enough", "total >= 5")
def totals():
    return dlt.read_stream("events").groupBy("k").agg(F.sum("v").alias("total"), F.count("*").alias("events"))
