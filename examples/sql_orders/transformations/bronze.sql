-- Bronze, in SQL: raw order events and customer changes from the landing volume, via Auto Loader.
-- The same tables as pipeline/transformations/bronze_layer.py: every JSON leaf as a STRING
-- (inferColumnTypes off), two pinned schema hints, the rescued-data column and four ingestion
-- metadata columns. Paths and options come from the pipeline configuration (ecommerce.* keys).

CREATE OR REFRESH STREAMING TABLE bronze_orders
COMMENT 'Order events as delivered (JSON leaves as strings), with ingestion metadata.'
TBLPROPERTIES (quality = 'bronze')
AS SELECT
  *,
  current_timestamp() AS _ingested_at,
  _metadata.file_path AS _source_file,
  CASE WHEN regexp_extract(_metadata.file_name, '_b(\\d{5})_', 1) <> ''
       THEN CAST(regexp_extract(_metadata.file_name, '_b(\\d{5})_', 1) AS INT) END AS _batch_id,
  _metadata.file_modification_time AS _file_modification_time
FROM STREAM read_files(
  '${ecommerce.landing_orders}',
  format => 'json',
  schemaLocation => '${ecommerce.schema_location}/bronze_orders',
  inferColumnTypes => false,
  schemaEvolutionMode => '${ecommerce.schema_evolution_mode}',
  schemaHints => 'shipping_cost DOUBLE, _corrupt_record STRING',
  maxFilesPerTrigger => ${ecommerce.max_files_per_trigger},
  rescuedDataColumn => '_rescued_data'
);

CREATE OR REFRESH STREAMING TABLE bronze_customers
COMMENT 'Customer change feed as delivered, with ingestion metadata.'
TBLPROPERTIES (quality = 'bronze')
AS SELECT
  *,
  current_timestamp() AS _ingested_at,
  _metadata.file_path AS _source_file,
  CASE WHEN regexp_extract(_metadata.file_name, '_b(\\d{5})_', 1) <> ''
       THEN CAST(regexp_extract(_metadata.file_name, '_b(\\d{5})_', 1) AS INT) END AS _batch_id,
  _metadata.file_modification_time AS _file_modification_time
FROM STREAM read_files(
  '${ecommerce.landing_customers}',
  format => 'json',
  schemaLocation => '${ecommerce.schema_location}/bronze_customers',
  inferColumnTypes => false,
  schemaEvolutionMode => '${ecommerce.schema_evolution_mode}',
  schemaHints => 'sequence_num BIGINT, _corrupt_record STRING',
  maxFilesPerTrigger => ${ecommerce.max_files_per_trigger},
  rescuedDataColumn => '_rescued_data'
);
