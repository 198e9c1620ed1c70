import dlt


@dlt.view
@dlt.expect_or_drop("positive_amount", "amount > 0")
def payments_valid():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/payments")
    )


@dlt.table
def payments_card():
    return dlt.read_stream("payments_valid").where("method = 'card'").select("pay_id", "amount")


@dlt.table
def payments_cash():
    return dlt.read_stream("payments_valid").where("method = 'cash'").select("pay_id", "amount")
