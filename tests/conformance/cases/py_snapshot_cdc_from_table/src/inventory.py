import dlt


@dlt.view
def inventory_snapshot():
    return spark.read.format("json").schema("sku STRING, qty INT").load("/Volumes/main/conf/landing/snapshot")


dlt.create_streaming_table("inventory")

dlt.apply_changes_from_snapshot(
    target="inventory",
    source="inventory_snapshot",
    keys=["sku"],
    stored_as_scd_type=1,
)
