CREATE OR REFRESH MATERIALIZED VIEW fine AS SELECT 1 AS id;

-- the body below is not SQL: Spark's parser rejects it, the error names this file and line 5
CREATE OR REFRESH MATERIALIZED VIEW broken AS
SELEC id FROM fine;
