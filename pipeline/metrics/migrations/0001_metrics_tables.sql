-- Metrics tables of the pipeline monitoring database. Unqualified names: the migrator runs every
-- migration with search_path set to the configured schema (default pipeline_monitoring).
-- Natural keys are primary keys, so the same metric can never be stored twice; the exporter
-- upserts on them (INSERT ... ON CONFLICT).

CREATE TABLE pipeline_updates (
    pipeline_id         text        NOT NULL,
    update_id           text        NOT NULL,
    pipeline_name       text,
    state               text        NOT NULL,
    cause               text,
    full_refresh        boolean,
    start_time          timestamptz,
    end_time            timestamptz,
    duration_s          double precision CHECK (duration_s >= 0),
    num_flows           integer     NOT NULL DEFAULT 0 CHECK (num_flows >= 0),
    num_flows_completed integer     NOT NULL DEFAULT 0 CHECK (num_flows_completed >= 0),
    num_flows_failed    integer     NOT NULL DEFAULT 0 CHECK (num_flows_failed >= 0),
    num_flows_skipped   integer     NOT NULL DEFAULT 0 CHECK (num_flows_skipped >= 0),
    rows_out            bigint      CHECK (rows_out >= 0),
    rows_upserted       bigint      CHECK (rows_upserted >= 0),
    rows_deleted        bigint      CHECK (rows_deleted >= 0),
    rows_dropped        bigint      CHECK (rows_dropped >= 0),
    rows_quarantined    bigint      CHECK (rows_quarantined >= 0),
    files_read          bigint      CHECK (files_read >= 0),
    bytes_read          bigint      CHECK (bytes_read >= 0),
    core_seconds        double precision CHECK (core_seconds >= 0),
    dbus                double precision CHECK (dbus >= 0),
    cost_usd            double precision CHECK (cost_usd >= 0),
    error_class         text,
    error_message       text,
    first_seq           bigint,
    update_seq          bigint      NOT NULL,
    exported_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, update_id),
    CHECK (end_time IS NULL OR start_time IS NULL OR end_time >= start_time)
);
CREATE INDEX pipeline_updates_recent ON pipeline_updates (pipeline_id, end_time DESC);
CREATE INDEX pipeline_updates_failed ON pipeline_updates (end_time DESC) WHERE state <> 'COMPLETED';

CREATE TABLE flow_metrics (
    pipeline_id           text        NOT NULL,
    update_id             text        NOT NULL,
    flow_name             text        NOT NULL,
    dataset_name          text,
    status                text        NOT NULL,
    start_time            timestamptz,
    end_time              timestamptz,
    duration_s            double precision CHECK (duration_s >= 0),
    rows_in               bigint      CHECK (rows_in >= 0),
    rows_out              bigint      CHECK (rows_out >= 0),
    rows_upserted         bigint      CHECK (rows_upserted >= 0),
    rows_deleted          bigint      CHECK (rows_deleted >= 0),
    rows_dropped          bigint      CHECK (rows_dropped >= 0),
    num_batches           bigint      CHECK (num_batches >= 0),
    avg_batch_rows        double precision,
    throughput_rows_per_s double precision,
    files_read            bigint      CHECK (files_read >= 0),
    bytes_read            bigint      CHECK (bytes_read >= 0),
    corrupt_records       bigint      CHECK (corrupt_records >= 0),
    rescued_records       bigint      CHECK (rescued_records >= 0),
    core_seconds          double precision CHECK (core_seconds >= 0),
    error_class           text,
    error_message         text,
    update_seq            bigint      NOT NULL,
    exported_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, update_id, flow_name),
    FOREIGN KEY (pipeline_id, update_id) REFERENCES pipeline_updates ON DELETE CASCADE
);
CREATE INDEX flow_metrics_by_dataset ON flow_metrics (pipeline_id, dataset_name, end_time DESC);

CREATE TABLE quality_metrics (
    pipeline_id      text    NOT NULL,
    update_id        text    NOT NULL,
    flow_name        text    NOT NULL,
    dataset_name     text    NOT NULL,
    expectation_name text    NOT NULL,
    action           text,
    constraint_sql   text,
    passed_records   bigint  NOT NULL CHECK (passed_records >= 0),
    failed_records   bigint  NOT NULL CHECK (failed_records >= 0),
    quality_rate     double precision GENERATED ALWAYS AS (
        CASE WHEN passed_records + failed_records > 0
             THEN passed_records::double precision / (passed_records + failed_records) END
    ) STORED,
    update_seq       bigint  NOT NULL,
    exported_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, update_id, flow_name, dataset_name, expectation_name),
    FOREIGN KEY (pipeline_id, update_id) REFERENCES pipeline_updates ON DELETE CASCADE
);
CREATE INDEX quality_metrics_by_rule ON quality_metrics (pipeline_id, dataset_name, expectation_name, update_seq DESC);

-- One row per edge; the update columns say when it was first and last seen.
CREATE TABLE lineage_edges (
    pipeline_id          text   NOT NULL,
    flow_name            text   NOT NULL,
    source_dataset       text   NOT NULL,
    target_dataset       text   NOT NULL,
    flow_type            text,
    first_seen_update_id text   NOT NULL,
    first_seen_at        timestamptz,
    first_seen_seq       bigint NOT NULL,
    last_seen_update_id  text   NOT NULL,
    last_seen_at         timestamptz,
    last_seen_seq        bigint NOT NULL,
    exported_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, flow_name, source_dataset, target_dataset),
    CHECK (last_seen_seq >= first_seen_seq)
);
CREATE INDEX lineage_edges_by_target ON lineage_edges (pipeline_id, target_dataset);
CREATE INDEX lineage_edges_by_source ON lineage_edges (pipeline_id, source_dataset);

CREATE TABLE sla_status (
    pipeline_id       text        NOT NULL,
    update_id         text        NOT NULL,
    check_type        text        NOT NULL CHECK (check_type IN ('freshness', 'update_duration')),
    subject           text        NOT NULL,
    measured_at       timestamptz,
    newest_event_time timestamptz,
    observed_minutes  double precision,
    target_minutes    double precision CHECK (target_minutes > 0),
    compliant         boolean,
    update_seq        bigint      NOT NULL,
    exported_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, update_id, check_type, subject),
    FOREIGN KEY (pipeline_id, update_id) REFERENCES pipeline_updates ON DELETE CASCADE
);
CREATE INDEX sla_status_breaches ON sla_status (pipeline_id, measured_at DESC) WHERE compliant = false;
CREATE INDEX sla_status_by_subject ON sla_status (pipeline_id, check_type, subject, measured_at DESC);

-- The export's progress, advanced in the same transaction as the rows it covers.
CREATE TABLE export_watermarks (
    pipeline_id    text        NOT NULL,
    stream         text        NOT NULL DEFAULT 'event_log',
    last_seq       bigint      NOT NULL CHECK (last_seq >= 0),
    last_update_id text,
    batches        bigint      NOT NULL DEFAULT 0 CHECK (batches >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, stream)
);

-- Batches that failed after their retries; the payload is also kept as a JSON file next to the
-- pipeline's state (the database may be what failed). A re-drive sets redriven_at.
CREATE TABLE dead_letters (
    pipeline_id   text        NOT NULL,
    batch_id      text        NOT NULL,
    first_seq     bigint      NOT NULL,
    last_seq      bigint      NOT NULL,
    update_ids    text[]      NOT NULL,
    attempts      integer     NOT NULL CHECK (attempts >= 1),
    error_class   text        NOT NULL,
    error_message text        NOT NULL,
    file_path     text,
    payload       jsonb,
    failed_at     timestamptz NOT NULL,
    redriven_at   timestamptz,
    PRIMARY KEY (pipeline_id, batch_id),
    CHECK (last_seq >= first_seq)
);
CREATE INDEX dead_letters_pending ON dead_letters (pipeline_id, failed_at) WHERE redriven_at IS NULL;
