import dlt
from pyspark.sql import functions as F

LANDING = "/Volumes/main/conf/landing"

dlt.create_streaming_table("orders_all")


@dlt.append_flow(target="orders_all")
def live_orders():
    return (
        spark.readStream.format("json")
        .schema("order_id INT")
        .load(f"{LANDING}/live")
        .withColumn("origin", F.lit("live"))
    )


@dlt.append_flow(target="orders_all", once=True)
def history_backfill():
    return (
        spark.read.format("json")
        .schema("order_id INT")
        .load(f"{LANDING}/history")
        .withColumn("origin", F.lit("history"))
    )
