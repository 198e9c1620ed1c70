import dlt
from pyspark.sql import functions as F

LANDING = "/Volumes/main/conf/landing"


@dlt.table
def orders():
    return spark.readStream.format("json").schema("order_id STRING, ots TIMESTAMP").load(f"{LANDING}/orders")


@dlt.table
def payments():
    return (
        spark.readStream.format("json")
        .schema("pay_id STRING, paid_order STRING, pts TIMESTAMP")
        .load(f"{LANDING}/payments")
    )


@dlt.table
def paid_orders():
    orders = dlt.read_stream("orders").withWatermark("ots", "30 minutes")
    payments = dlt.read_stream("payments").withWatermark("pts", "30 minutes")
    return orders.join(
        payments, F.expr("paid_order = order_id AND pts BETWEEN ots AND ots + INTERVAL 15 MINUTES")
    ).select("order_id", "pay_id")
