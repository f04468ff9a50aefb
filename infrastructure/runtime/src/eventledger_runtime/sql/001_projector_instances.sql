-- The instance registry (eventledger_runtime.instances, docs/adr/0020-projector-instance-registry.md): one row per
-- running projector or stream-job instance, written by the instance itself every second, read by the admin view.
CREATE TABLE IF NOT EXISTS projector_instances (
    instance_id   text PRIMARY KEY,
    projection    text NOT NULL,
    host          text NOT NULL,
    port          integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    pid           integer NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    state         text NOT NULL,
    reason        text,
    position      bigint NOT NULL,
    lag_events    bigint NOT NULL,
    lag_seconds   double precision NOT NULL,
    -- [{"topic": ..., "partition": ..., "offset": ..., "lag": ...}, ...]
    partitions    jsonb NOT NULL
);

CREATE INDEX IF NOT EXISTS projector_instances_by_projection ON projector_instances (projection, started_at);
