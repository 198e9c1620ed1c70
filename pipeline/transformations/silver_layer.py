"""Silver: validated events, quarantine, current orders, lines, status history, SCD2 customers.

Rules come from utils/data_quality.py (one definition for the expectations and the quarantine);
the transforms are in utils/silver.py.
"""

import dlt
from utils.data_quality import CUSTOMER_RULES, ORDER_RULES, drop_expectations, warn_expectations
from utils.silver import (
    SCD2_TRACKED_COLUMNS,
    current_orders,
    customer_changes,
    customer_order_history,
    order_lines,
    prepare_order_events,
    quarantined_events,
    status_history,
)


@dlt.table(
    name="silver_order_events",
    comment="Typed order events that pass every data-quality rule (the others are in the quarantine).",
    table_properties={"quality": "silver"},
)
@dlt.expect_all_or_drop(drop_expectations(ORDER_RULES))
def silver_order_events():
    return prepare_order_events(dlt.read_stream("bronze_orders"))


@dlt.table(
    name="silver_orders_quarantine",
    comment="Order events that failed at least one rule: failed_rules, raw record, source file.",
    table_properties={"quality": "quarantine"},
)
def silver_orders_quarantine():
    return quarantined_events(prepare_order_events(dlt.read_stream("bronze_orders")), ORDER_RULES)


@dlt.table(
    name="silver_orders",
    comment="Current state of every order (latest valid event by event_time, status rank, event_id).",
    table_properties={"quality": "silver"},
)
def silver_orders():
    return current_orders(dlt.read("silver_order_events"))


@dlt.table(
    name="silver_order_lines",
    comment="Items of the current orders with line totals, discount, order value and date parts.",
    table_properties={"quality": "silver"},
)
def silver_order_lines():
    return order_lines(dlt.read("silver_orders"))


@dlt.table(
    name="silver_order_status_history",
    comment="Every distinct status event of every order with the previous status and time since.",
    table_properties={"quality": "silver"},
)
def silver_order_status_history():
    return status_history(dlt.read("silver_order_events"))


@dlt.view(name="customer_changes", comment="Typed customer change feed for AUTO CDC.")
@dlt.expect_all(warn_expectations(CUSTOMER_RULES))
def customer_changes_view():
    return customer_changes(dlt.read_stream("bronze_customers"))


dlt.create_streaming_table(
    name="silver_customers",
    comment="Customers as an SCD type 2 dimension (__START_AT / __END_AT are sequence numbers).",
    table_properties={"quality": "silver"},
)

dlt.apply_changes(
    target="silver_customers",
    source="customer_changes",
    keys=["customer_id"],
    sequence_by="sequence_num",
    apply_as_deletes="operation = 'DELETE'",
    except_column_list=["operation", "_source_file", "_batch_id"],
    stored_as_scd_type=2,
    track_history_column_list=list(SCD2_TRACKED_COLUMNS),
)


@dlt.table(
    name="silver_customer_order_history",
    comment="Per customer: first and last order, order count, total and net spend.",
    table_properties={"quality": "silver"},
)
def silver_customer_order_history():
    return customer_order_history(dlt.read("silver_orders"))
