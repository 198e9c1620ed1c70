CREATE OR REFRESH MATERIALIZED VIEW landing_files
AS SELECT * FROM read_files('${source_root}/orders', format => 'json');
