-- The pre-2024 spelling many public pipelines still use: LIVE tables, cloud_files, LIVE. prefixes.
CREATE OR REFRESH STREAMING LIVE TABLE raw_orders
COMMENT "orders through the legacy Auto Loader function"
AS SELECT * FROM cloud_files("/Volumes/main/conf/landing/orders", "json", map("cloudFiles.inferColumnTypes", "true"));

CREATE TEMPORARY LIVE VIEW large_orders (
  CONSTRAINT over_one EXPECT (amount > 1.0) ON VIOLATION DROP ROW
) AS SELECT id, country, amount FROM LIVE.raw_orders;

CREATE OR REFRESH LIVE TABLE country_totals
AS SELECT country, sum(amount) AS total, count(*) AS orders FROM LIVE.large_orders GROUP BY country;

CREATE INCREMENTAL LIVE TABLE order_ids AS SELECT id FROM STREAM(LIVE.raw_orders);

CREATE TEMPORARY STREAMING LIVE VIEW streamed AS SELECT id, amount FROM STREAM LIVE.raw_orders;

CREATE OR REFRESH STREAMING LIVE TABLE doubled AS SELECT s.id, s.amount * 2 AS twice FROM STREAM(LIVE.streamed) s;
