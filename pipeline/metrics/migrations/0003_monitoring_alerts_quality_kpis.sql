-- Monitoring (issue 9): alerts, Great Expectations results and gold KPI summaries.
-- Unqualified names, as in 0001: the migrator sets search_path to the monitoring schema.

-- One row per natural key (pipeline, dedup_key = rule|subject|window): re-evaluating an update bumps
-- occurrences / last_seen_at instead of adding a row. notified_at stays NULL until every channel
-- delivered, so a failed or interrupted notification is retried on the next evaluation.
CREATE TABLE alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline        text NOT NULL,
    dedup_key       text NOT NULL,
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    subject         text NOT NULL,
    alert_window    text NOT NULL,
    value           double precision,
    threshold       double precision,
    message         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    occurrences     integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    notified_at     timestamptz,
    deliveries      jsonb,
    CONSTRAINT alerts_natural_key UNIQUE (pipeline, dedup_key)
);
CREATE INDEX alerts_recent ON alerts (pipeline, first_seen_at DESC);
CREATE INDEX alerts_pending ON alerts (pipeline) WHERE notified_at IS NULL;

-- One row per expectation of a Great Expectations suite run (quality_suites.runner.QualityMetricRow).
CREATE TABLE gx_quality_results (
    pipeline_id      text        NOT NULL,
    run_id           text        NOT NULL,
    suite            text        NOT NULL,
    table_name       text        NOT NULL,
    expectation      text        NOT NULL,
    column_name      text        NOT NULL DEFAULT '',
    success          boolean     NOT NULL,
    observed_value   text,
    unexpected_count bigint      CHECK (unexpected_count >= 0),
    element_count    bigint      CHECK (element_count >= 0),
    evaluated_at     timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, run_id, suite, expectation, column_name)
);
CREATE INDEX gx_quality_results_recent ON gx_quality_results (pipeline_id, evaluated_at DESC);

-- Daily business KPIs from the gold layer, overall (dimension 'all') and by channel / status.
CREATE TABLE gold_kpi_daily (
    pipeline_id        text          NOT NULL,
    kpi_date           date          NOT NULL,
    dimension          text          NOT NULL CHECK (dimension IN ('all', 'channel', 'status')),
    dimension_value    text          NOT NULL,
    orders             bigint        NOT NULL CHECK (orders >= 0),
    units              bigint        CHECK (units >= 0),
    revenue            numeric(18,2) NOT NULL,
    aov                numeric(18,2),
    distinct_customers bigint        CHECK (distinct_customers >= 0),
    exported_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, kpi_date, dimension, dimension_value)
);
