CREATE OR REFRESH STREAMING TABLE changes
AS SELECT * FROM STREAM read_files('/Volumes/main/conf/landing/changes', format => 'json', inferColumnTypes => true);

-- SCD type 1 through the current spelling
CREATE OR REFRESH STREAMING TABLE customers;

CREATE FLOW customers_cdc AS AUTO CDC INTO customers
FROM STREAM(changes)
KEYS (id)
APPLY AS DELETE WHEN op = 'DELETE'
SEQUENCE BY seq
COLUMNS * EXCEPT (op, _rescued_data)
STORED AS SCD TYPE 1;

-- SCD type 2 through the legacy spelling, history kept for city only
CREATE OR REFRESH STREAMING TABLE customers_history;

APPLY CHANGES INTO LIVE.customers_history
FROM STREAM(LIVE.changes)
KEYS (id)
APPLY AS DELETE WHEN op = 'DELETE'
SEQUENCE BY seq
COLUMNS * EXCEPT (op, _rescued_data)
STORED AS SCD TYPE 2
TRACK HISTORY ON city;

-- Append flows: one streaming, one run once (a backfill from a batch source)
CREATE OR REFRESH MATERIALIZED VIEW legacy_events AS SELECT * FROM VALUES (CAST(100 AS BIGINT), 'old') AS t(id, note);

CREATE OR REFRESH STREAMING TABLE all_events;

CREATE FLOW events_stream AS INSERT INTO all_events BY NAME
SELECT id, 'change' AS note FROM STREAM(changes);

CREATE FLOW events_backfill AS INSERT INTO ONCE all_events BY NAME
SELECT id, note FROM legacy_events;
