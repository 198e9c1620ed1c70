import dlt


@dlt.view
@dlt.expect("has_email", "email IS NOT NULL")
@dlt.expect_or_drop("adult", "age >= 18")
def signups_checked():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/signups")
    )


@dlt.table
def signups():
    return dlt.read_stream("signups_checked").select("user_id", "email")


@dlt.table
@dlt.expect("some_adults", "adults > 0")
def adult_count():
    return dlt.read("signups").selectExpr("count(*) AS adults")
