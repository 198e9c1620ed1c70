-- Alerts raised by pipeline.monitoring.alerts, one row per natural key (pipeline, dedup_key).
-- dedup_key = rule | subject | window: re-evaluating the same update or day bumps occurrences and
-- last_seen_at instead of adding a row, so an alert is notified once. notified_at stays NULL
-- until a notification attempt finished, so a crash between recording and notifying re-sends
-- on the next run. {schema} is replaced by the quoted monitoring schema.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.alerts (
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
    details         jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    occurrences     integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    notified_at     timestamptz,
    deliveries      jsonb,
    CONSTRAINT alerts_natural_key UNIQUE (pipeline, dedup_key)
);

CREATE INDEX IF NOT EXISTS alerts_recent_idx ON {schema}.alerts (pipeline, first_seen_at DESC);
CREATE INDEX IF NOT EXISTS alerts_pending_idx ON {schema}.alerts (pipeline) WHERE notified_at IS NULL;
