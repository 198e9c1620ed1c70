import dlt
from pyspark.sql import functions as F


@dlt.view
def changes_feed():
    return (
        spark.readStream.format("json")
        .schema("id INT, name STRING, op STRING, seq STRING")
        .load("/Volumes/main/conf/landing/changes")
    )


dlt.create_streaming_table("customers")

dlt.apply_changes(
    target="customers",
    source="changes_feed",
    keys=["id"],
    sequence_by="seq",
    apply_as_deletes=F.expr("op = 'DELETE'"),
    except_column_list=["op"],
    stored_as_scd_type=1,
)
