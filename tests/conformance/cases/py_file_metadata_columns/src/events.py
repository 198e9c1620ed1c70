import dlt
from pyspark.sql import functions as F


@dlt.table
def events_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/events")
        .select(
            "event",
            F.col("_metadata.file_name").alias("source_file"),
            F.col("_metadata.file_path")
            .endswith(F.concat(F.lit("/landing/events/"), F.col("_metadata.file_name")))
            .alias("from_landing"),
        )
    )
