import dlt


@dlt.table
def events():
    return (
        spark.readStream.format("json")
        .schema("id INT, k STRING, ts TIMESTAMP, v INT")
        .load("/Volumes/main/conf/landing/events")
    )


@dlt.table
def unique_events():
    return dlt.read_stream("events").dropDuplicates(["id"]).select("id")


@dlt.table
def unique_recent_events():
    return (
        dlt.read_stream("events")
        .withWatermark("ts", "10 minutes")
        .dropDuplicatesWithinWatermark(["id"])
        .select("id")
    )
