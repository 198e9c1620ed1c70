import dlt
from pyspark.sql import functions as F

REGIONS = ["north", "south", "east"]


@dlt.table(comment="every sale as it lands")
def sales_raw():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/sales")
    )


def region_table(region):
    @dlt.table(name=f"sales_{region}", comment=f"sales of the {region} region")
    def sales_of_region():
        return dlt.read_stream("sales_raw").where(F.col("region") == region).select("sale_id", "amount")


for region in REGIONS:
    region_table(region)
