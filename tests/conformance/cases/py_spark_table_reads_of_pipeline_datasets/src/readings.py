import dlt


@dlt.table
def readings_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/readings")
    )


@dlt.table
def readings_silver():
    return spark.readStream.table("readings_bronze").where("value IS NOT NULL").select("sensor", "value")


@dlt.table
def readings_per_sensor():
    return (
        spark.read.table("main.conf.readings_silver")
        .groupBy("sensor")
        .count()
        .withColumnRenamed("count", "readings")
    )
