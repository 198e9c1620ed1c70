import dlt


@dlt.table(comment="orders read by Python")
def py_orders():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/orders")
    )


@dlt.table(comment="Python reading a SQL dataset")
def py_summary():
    return dlt.read("sql_clean").groupBy("country").count()
