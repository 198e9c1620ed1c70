import dlt


@dlt.table
def clicks_raw():
    return spark.readStream.format("json").schema("click_id INT").load("/Volumes/main/conf/landing/clicks")


@dlt.table
def clicks_copy():
    return dlt.read_stream("clicks_raw")


@dlt.table
def click_count():
    return dlt.read("clicks_copy").selectExpr("count(*) AS clicks")
