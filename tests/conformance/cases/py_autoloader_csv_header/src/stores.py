import dlt

STORES = "/Volumes/main/conf/landing/stores"


@dlt.table(comment="CSV with a header, column types inferred")
def stores_typed():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "csv")
        .option("header", "true")
        .option("cloudFiles.inferColumnTypes", "true")
        .load(STORES)
    )


@dlt.table(comment="the same files without type inference: every column a string")
def stores_text():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "csv")
        .option("header", "true")
        .load(STORES)
    )
