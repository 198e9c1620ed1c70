-- Databricks notebook source
-- MAGIC %md
-- MAGIC ## Orders priced in euros

-- COMMAND ----------

USE CATALOG main;
USE SCHEMA conf

-- COMMAND ----------

SET spark.sql.shuffle.partitions = 3

-- COMMAND ----------

-- DBTITLE 1,Raw orders
CREATE OR REFRESH STREAMING TABLE raw_orders (
  id BIGINT NOT NULL COMMENT 'order id',
  country STRING,
  amount DOUBLE,
  amount_cents BIGINT GENERATED ALWAYS AS (CAST(amount * 100 AS BIGINT)),
  CONSTRAINT known_country EXPECT (country IN ('NO', 'IT')),
  CONSTRAINT raw_orders_pk PRIMARY KEY (id)
)
PARTITIONED BY (country)
COMMENT 'orders as they land'
AS SELECT id, country, amount
FROM STREAM read_files('${landing}/orders', format => 'json', schemaHints => 'amount DOUBLE')

-- COMMAND ----------

CREATE OR REFRESH PRIVATE MATERIALIZED VIEW rates
AS SELECT * FROM read_files('${landing}/rates', format => 'csv', header => true)

-- COMMAND ----------

CREATE TEMPORARY VIEW priced (order_id, country, eur) COMMENT 'orders with their euro value' AS
SELECT o.id, o.country, o.amount * r.rate FROM raw_orders o JOIN rates r ON o.country = r.country

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW priced_orders CLUSTER BY (country) AS SELECT * FROM priced

-- COMMAND ----------

CREATE VIEW big_orders COMMENT 'a persisted view' AS SELECT order_id FROM priced_orders WHERE eur > 10

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW big_count AS SELECT count(*) AS n FROM big_orders
