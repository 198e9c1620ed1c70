-- Orders as they land: STREAM read_files is Auto Loader, types inferred (read_files' default).
CREATE OR REFRESH STREAMING TABLE raw_orders
COMMENT 'Orders as they land; types inferred'
TBLPROPERTIES (quality = 'bronze', pipelines.reset.allowed = true)
AS SELECT * FROM STREAM read_files('/Volumes/main/conf/landing/orders', format => 'json');

CREATE OR REFRESH STREAMING TABLE clean_orders (
  CONSTRAINT has_amount EXPECT (amount IS NOT NULL),
  CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
)
COMMENT 'Orders with an id; a missing amount is only counted'
AS SELECT id, amount FROM STREAM(raw_orders);
