import dlt

SOURCE = "/Volumes/main/conf/landing/audit"


@dlt.table(table_properties={"pipelines.reset.allowed": "false"})
def audit_kept():
    return spark.readStream.format("json").schema("n INT").load(SOURCE)


@dlt.table
def audit_reset():
    return spark.readStream.format("json").schema("n INT").load(SOURCE)
