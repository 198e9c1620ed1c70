import dlt


@dlt.table
def exported_orders():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/export")
        .select("order_id", "total")
    )
