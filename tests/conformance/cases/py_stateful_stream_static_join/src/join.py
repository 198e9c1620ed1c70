import dlt


@dlt.table
def events():
    return (
        spark.readStream.format("json")
        .schema("id INT, k STRING, ts TIMESTAMP, v INT")
        .load("/Volumes/main/conf/landing/events")
    )


@dlt.table
def colours():
    return (
        spark.read.format("json").schema("k STRING, colour STRING").load("/Volumes/main/conf/landing/colours")
    )


@dlt.table
def events_coloured():
    return dlt.read_stream("events").join(dlt.read("colours"), "k", "left").select("id", "colour")
