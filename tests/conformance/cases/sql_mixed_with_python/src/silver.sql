-- SQL reading a Python dataset
CREATE OR REFRESH STREAMING TABLE sql_clean (
  CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
) AS SELECT id, country FROM STREAM(py_orders);
