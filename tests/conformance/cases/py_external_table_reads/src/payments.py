import dlt


@dlt.table(comment="the reference rates, streamed from a table the pipeline does not own")
def rate_feed():
    return spark.readStream.table("main.reference.fx_rates_h14")


@dlt.table
def payments():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/payments")
    )


@dlt.table
def payments_usd():
    rates = spark.read.table("main.reference.fx_rates_h14")
    return dlt.read("payments").join(rates, "code").selectExpr("pay_id", "amount * rate AS usd")
