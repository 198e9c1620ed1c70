import dlt


@dlt.table(comment="Orders as they land, types inferred by Auto Loader")
def raw_orders():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/orders")
    )


@dlt.table
@dlt.expect("has_amount", "amount IS NOT NULL")
@dlt.expect_or_drop("valid_id", "id IS NOT NULL")
def clean_orders():
    return dlt.read_stream("raw_orders").select("id", "amount")
