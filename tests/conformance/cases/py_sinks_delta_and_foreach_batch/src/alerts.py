import dlt

LANDING = "/Volumes/main/conf/landing"


@dlt.table
def alerts():
    return spark.readStream.format("json").schema("alert_id INT, level STRING").load(f"{LANDING}/alerts")


dlt.create_sink("high_alerts_sink", "delta", {"path": f"{LANDING}/sink_out/high_alerts"})


@dlt.append_flow(name="to_high_alerts", target="high_alerts_sink")
def to_high_alerts():
    return dlt.read_stream("alerts").where("level = 'high'")


@dlt.foreach_batch_sink(name="alert_log_sink")
def alert_log_sink(df, batch_id):
    # a real handler would call an API or a queue; this one hands the rows to Spark's no-op writer
    df.write.format("noop").mode("overwrite").save()


@dlt.append_flow(name="to_alert_log", target="alert_log_sink")
def to_alert_log():
    return dlt.read_stream("alerts")
