-- Least-privilege roles (NOLOGIN groups: grant them to login users).
--   metrics_exporter: write metrics, read/advance watermarks, record dead letters; no DDL, no DELETE.
--   metrics_reader:   read-only, for dashboards.
-- Roles are cluster-wide; creating them needs CREATEROLE. Where the migrating user lacks it (a
-- managed database such as Lakebase), the roles are skipped with a NOTICE and can be created by
-- an administrator with this same file.
DO $$
DECLARE
    s text := current_schema();
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metrics_exporter') THEN
            CREATE ROLE metrics_exporter NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metrics_reader') THEN
            CREATE ROLE metrics_reader NOLOGIN;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'metrics roles not created (no CREATEROLE privilege): %', SQLERRM;
        RETURN;
    END;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO metrics_exporter, metrics_reader', s);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO metrics_reader', s);
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE ON %I.pipeline_updates, %I.flow_metrics, %I.quality_metrics, '
        '%I.lineage_edges, %I.sla_status, %I.export_watermarks, %I.dead_letters TO metrics_exporter',
        s, s, s, s, s, s, s);
    EXECUTE format('GRANT SELECT ON %I.schema_migrations TO metrics_exporter, metrics_reader', s);
END
$$;
