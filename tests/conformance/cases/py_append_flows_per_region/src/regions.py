"""One streaming table fed by an append flow per region folder (Auto Loader with a schema hint)."""

import dlt
from pyspark.sql import functions as F

dlt.create_streaming_table("orders_all", comment="Orders of every region")


def region_flow(region: str) -> None:
    @dlt.append_flow(target="orders_all", name=f"orders_from_{region}")
    def ingest():
        return (
            spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            .option("cloudFiles.schemaHints", "qty INT")
            .load(f"/Volumes/main/conf/landing/{region}")
            .withColumn("region", F.lit(region))
        )


for name in ("eu", "us"):
    region_flow(name)
