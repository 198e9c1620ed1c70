import dlt


@dlt.table
@dlt.expect("has_name", "name IS NOT NULL")
@dlt.expect_or_drop("positive_qty", "qty > 0")
@dlt.expect_or_fail("known_id", "id IS NOT NULL")
@dlt.expect_all({"short_name": "coalesce(length(name), 0) < 10", "qty_small": "qty < 100"})
@dlt.expect_all_or_drop({"not_test": "coalesce(name, '') <> 'test'"})
@dlt.expect_all_or_fail({"id_positive": "id > 0"})
def items():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("/Volumes/main/conf/landing/items")
        .select("id", "name", "qty")
    )
