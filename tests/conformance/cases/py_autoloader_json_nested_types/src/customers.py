import dlt


@dlt.table
def customers_raw():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/customers")
    )


@dlt.table
def customers_silver():
    return dlt.read_stream("customers_raw").selectExpr(
        "id", "profile.name AS name", "profile.tier + 1 AS next_tier"
    )
