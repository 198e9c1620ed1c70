import dlt
from pyspark.sql import functions as F


@dlt.view
def people_feed():
    return (
        spark.readStream.format("json")
        .schema("id INT, name STRING, city STRING, op STRING, ver INT, sub INT")
        .load("/Volumes/main/conf/landing/people")
    )


dlt.create_streaming_table("customer_history")

dlt.apply_changes(
    target="customer_history",
    source="people_feed",
    keys=["id"],
    sequence_by=F.struct("ver", "sub"),
    apply_as_deletes=F.expr("op = 'DELETE'"),
    except_column_list=["op", "ver", "sub"],
    stored_as_scd_type=2,
    track_history_column_list=["city"],
)
