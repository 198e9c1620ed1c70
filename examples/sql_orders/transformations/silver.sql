-- Silver, in SQL: the tables of pipeline/transformations/silver_layer.py over pipeline/utils/silver.py
-- and pipeline/utils/data_quality.py, written as Databricks SQL. The rules are the same SQL
-- constraints as utils/data_quality.py (ORDER_RULES drop, CUSTOMER_RULES warn).

-- Typed order events (utils.silver.prepare_order_events). gift_wrap appears only after a schema
-- drift: reading it through to_json(struct(*)) gives NULL until the column exists, as the Python
-- version's "optional column" does.
CREATE TEMPORARY VIEW order_events_typed
COMMENT 'Bronze order rows with typed event columns, for the rules to judge.'
AS SELECT
  event_id,
  order_id,
  customer_id,
  status,
  try_cast(event_time AS TIMESTAMP) AS event_time,
  try_cast(order_time AS TIMESTAMP) AS order_time,
  currency,
  channel,
  payment_method,
  coupon_code,
  shipping_address,
  coalesce(
    CAST(shipping_cost AS DECIMAL(18,2)),
    try_cast(get_json_object(_rescued_data, '$.shipping_cost.amount') AS DECIMAL(18,2))
  ) AS shipping_cost,
  try_cast(get_json_object(to_json(struct(*)), '$.gift_wrap') AS BOOLEAN) AS gift_wrap,
  transform(items, i -> named_struct(
    'sku', i.sku,
    'quantity', try_cast(i.quantity AS INT),
    'unit_price', try_cast(i.unit_price AS DECIMAL(18,2)),
    'discount', try_cast(i.discount AS DECIMAL(18,2))
  )) AS items,
  _corrupt_record,
  _rescued_data,
  _ingested_at,
  _source_file,
  _batch_id,
  _file_modification_time
FROM STREAM(bronze_orders);

CREATE OR REFRESH STREAMING TABLE silver_order_events (
  CONSTRAINT record_parseable EXPECT (_corrupt_record IS NULL) ON VIOLATION DROP ROW,
  CONSTRAINT order_id_present EXPECT (order_id IS NOT NULL AND trim(order_id) <> '') ON VIOLATION DROP ROW,
  CONSTRAINT customer_id_present EXPECT (customer_id IS NOT NULL AND trim(customer_id) <> '') ON VIOLATION DROP ROW,
  CONSTRAINT status_known EXPECT (status IN ('created', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')) ON VIOLATION DROP ROW,
  CONSTRAINT event_time_not_future EXPECT (event_time <= _ingested_at + INTERVAL 1 DAY) ON VIOLATION DROP ROW,
  CONSTRAINT has_items EXPECT (size(items) > 0) ON VIOLATION DROP ROW,
  CONSTRAINT quantity_positive EXPECT (items IS NULL OR forall(items, i -> coalesce(i.quantity > 0, true))) ON VIOLATION DROP ROW,
  CONSTRAINT price_non_negative EXPECT (items IS NULL OR forall(items, i -> coalesce(i.unit_price >= 0, true))) ON VIOLATION DROP ROW,
  CONSTRAINT quantity_numeric EXPECT (items IS NULL OR forall(items, i -> i.quantity IS NOT NULL)) ON VIOLATION DROP ROW,
  CONSTRAINT items_count_reasonable EXPECT (items IS NULL OR size(items) <= 100) ON VIOLATION DROP ROW,
  CONSTRAINT text_encoding_valid EXPECT (NOT contains(concat_ws('|', shipping_address.street, shipping_address.city, shipping_address.postal_code, shipping_address.country), '\uFFFD')) ON VIOLATION DROP ROW
)
COMMENT 'Typed order events that pass every data-quality rule (the others are in the quarantine).'
TBLPROPERTIES (quality = 'silver')
AS SELECT * FROM STREAM(order_events_typed);

-- The quarantine: the names of the rules a row fails (utils.data_quality.failed_rules_sql) and the raw record.
CREATE OR REFRESH STREAMING TABLE silver_orders_quarantine
COMMENT 'Order events that failed at least one rule: failed_rules, raw record, source file.'
TBLPROPERTIES (quality = 'quarantine')
AS SELECT
  failed_rules,
  event_id,
  order_id,
  customer_id,
  status,
  event_time,
  coalesce(_corrupt_record, to_json(struct(
    event_id, order_id, customer_id, status, event_time, order_time, currency, channel, payment_method,
    coupon_code, shipping_address, shipping_cost, gift_wrap, items, _rescued_data, _ingested_at,
    _source_file, _batch_id, _file_modification_time
  ))) AS raw_record,
  _ingested_at,
  _source_file,
  _batch_id,
  _file_modification_time
FROM (
  SELECT *, filter(array(
    CASE WHEN coalesce((_corrupt_record IS NULL), false) THEN NULL ELSE 'record_parseable' END,
    CASE WHEN coalesce((order_id IS NOT NULL AND trim(order_id) <> ''), false) THEN NULL ELSE 'order_id_present' END,
    CASE WHEN coalesce((customer_id IS NOT NULL AND trim(customer_id) <> ''), false) THEN NULL ELSE 'customer_id_present' END,
    CASE WHEN coalesce((status IN ('created', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')), false) THEN NULL ELSE 'status_known' END,
    CASE WHEN coalesce((event_time <= _ingested_at + INTERVAL 1 DAY), false) THEN NULL ELSE 'event_time_not_future' END,
    CASE WHEN coalesce((size(items) > 0), false) THEN NULL ELSE 'has_items' END,
    CASE WHEN coalesce((items IS NULL OR forall(items, i -> coalesce(i.quantity > 0, true))), false) THEN NULL ELSE 'quantity_positive' END,
    CASE WHEN coalesce((items IS NULL OR forall(items, i -> coalesce(i.unit_price >= 0, true))), false) THEN NULL ELSE 'price_non_negative' END,
    CASE WHEN coalesce((items IS NULL OR forall(items, i -> i.quantity IS NOT NULL)), false) THEN NULL ELSE 'quantity_numeric' END,
    CASE WHEN coalesce((items IS NULL OR size(items) <= 100), false) THEN NULL ELSE 'items_count_reasonable' END,
    CASE WHEN coalesce((NOT contains(concat_ws('|', shipping_address.street, shipping_address.city, shipping_address.postal_code, shipping_address.country), '\uFFFD')), false) THEN NULL ELSE 'text_encoding_valid' END
  ), x -> x IS NOT NULL) AS failed_rules
  FROM STREAM(order_events_typed)
)
WHERE size(failed_rules) > 0;

-- Current state of every order: the latest valid event by (event_time, status rank, event_id).
CREATE OR REFRESH MATERIALIZED VIEW silver_orders
COMMENT 'Current state of every order (latest valid event by event_time, status rank, event_id).'
TBLPROPERTIES (quality = 'silver')
AS WITH ranked AS (
  SELECT *,
    CAST(array_position(array('created', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'), status) AS INT) AS _status_rank
  FROM silver_order_events
), latest AS (
  SELECT *,
    row_number() OVER (PARTITION BY order_id ORDER BY event_time DESC, _status_rank DESC, event_id DESC) AS _rn
  FROM ranked
), shaped AS (
  SELECT
    order_id,
    customer_id,
    status,
    _status_rank AS status_rank,
    event_id,
    event_time,
    order_time,
    to_date(order_time) AS order_date,
    hour(order_time) AS order_hour,
    date_format(order_time, 'EEEE') AS order_weekday,
    currency,
    channel,
    payment_method,
    coupon_code,
    shipping_address,
    shipping_cost,
    gift_wrap,
    items,
    CAST(aggregate(items, 0L, (acc, i) -> acc + i.quantity) AS BIGINT) AS units,
    aggregate(items, CAST(0 AS DECIMAL(18,2)),
      (acc, i) -> CAST(acc + i.quantity * i.unit_price - i.discount AS DECIMAL(18,2))) AS revenue,
    _source_file,
    _batch_id
  FROM latest
  WHERE _rn = 1
)
SELECT *, CAST(revenue + coalesce(shipping_cost, 0) AS DECIMAL(18,2)) AS order_value FROM shaped;

CREATE OR REFRESH MATERIALIZED VIEW silver_order_lines
COMMENT 'Items of the current orders with line totals, discount, order value and date parts.'
TBLPROPERTIES (quality = 'silver')
AS SELECT
  order_id,
  line_index + 1 AS line_number,
  item.sku AS sku,
  item.quantity AS quantity,
  item.unit_price AS unit_price,
  item.discount AS discount,
  CAST(item.quantity * item.unit_price AS DECIMAL(18,2)) AS line_gross,
  CAST(item.quantity * item.unit_price - item.discount AS DECIMAL(18,2)) AS line_total,
  customer_id,
  status,
  channel,
  order_time,
  order_date,
  order_hour,
  order_weekday,
  order_value
FROM silver_orders
LATERAL VIEW posexplode(items) exploded AS line_index, item;

CREATE OR REFRESH MATERIALIZED VIEW silver_order_status_history
COMMENT 'Every distinct status event of every order with the previous status and time since.'
TBLPROPERTIES (quality = 'silver')
AS WITH distinct_events AS (
  SELECT order_id, status, event_time, event_id, _batch_id,
    row_number() OVER (PARTITION BY order_id, status, event_time ORDER BY event_id DESC) AS _rn
  FROM silver_order_events
), ranked AS (
  SELECT order_id, status, event_time, event_id, _batch_id,
    CAST(array_position(array('created', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'), status) AS INT) AS status_rank
  FROM distinct_events
  WHERE _rn = 1
), with_previous AS (
  SELECT *,
    lag(status) OVER in_order AS previous_status,
    lag(event_time) OVER in_order AS previous_event_time
  FROM ranked
  WINDOW in_order AS (PARTITION BY order_id ORDER BY event_time, status_rank, event_id)
)
SELECT
  order_id,
  status,
  status_rank,
  event_time,
  event_id,
  previous_status,
  (CAST(event_time AS BIGINT) - CAST(previous_event_time AS BIGINT)) / 60.0D AS minutes_since_previous,
  _batch_id
FROM with_previous;

-- The typed customer change feed for AUTO CDC; its rules are counted, not enforced.
CREATE TEMPORARY VIEW customer_changes (
  CONSTRAINT customer_change_keyed EXPECT (customer_id IS NOT NULL AND sequence_num IS NOT NULL),
  CONSTRAINT customer_operation_known EXPECT (operation IN ('UPSERT', 'DELETE'))
)
COMMENT 'Typed customer change feed for AUTO CDC.'
AS SELECT
  customer_id,
  CAST(sequence_num AS BIGINT) AS sequence_num,
  upper(operation) AS operation,
  try_cast(change_time AS TIMESTAMP) AS change_time,
  email,
  first_name,
  last_name,
  address,
  tier,
  try_cast(signup_time AS TIMESTAMP) AS signup_time,
  _source_file,
  _batch_id
FROM STREAM(bronze_customers);

CREATE OR REFRESH STREAMING TABLE silver_customers
COMMENT 'Customers as an SCD type 2 dimension (__START_AT / __END_AT are sequence numbers).'
TBLPROPERTIES (quality = 'silver');

APPLY CHANGES INTO silver_customers
FROM STREAM(customer_changes)
KEYS (customer_id)
APPLY AS DELETE WHEN operation = 'DELETE'
SEQUENCE BY sequence_num
COLUMNS * EXCEPT (operation, _source_file, _batch_id)
STORED AS SCD TYPE 2
TRACK HISTORY ON email, first_name, last_name, address, tier;

CREATE OR REFRESH MATERIALIZED VIEW silver_customer_order_history
COMMENT 'Per customer: first and last order, order count, total and net spend.'
TBLPROPERTIES (quality = 'silver')
AS SELECT
  customer_id,
  min(order_time) AS first_order_time,
  max(order_time) AS last_order_time,
  count(*) AS order_count,
  sum(units) AS total_units,
  CAST(sum(revenue) AS DECIMAL(18,2)) AS total_spend,
  CAST(coalesce(sum(CASE WHEN NOT status IN ('cancelled', 'returned') THEN revenue END), 0) AS DECIMAL(18,2)) AS net_spend,
  sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_orders,
  sum(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS returned_orders
FROM silver_orders
GROUP BY customer_id;
