-- The stable schema of the PostgreSQL read model: which version is live, and the history of versions.
-- The query side reads the views of this schema (accounts, account_entries, transfers, projection_partitions) and
-- calls reflected_position(); both are (re)created on each switch.

-- One row. Projectors lock it FOR SHARE in every batch transaction; a switch updates it, so a batch either commits
-- to the old version before the switch or sees the new one.
CREATE TABLE live_version (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    version      integer     NOT NULL,
    schema_name  text        NOT NULL,
    switched_at  timestamptz NOT NULL DEFAULT statement_timestamp()
);

CREATE TABLE versions (
    version       integer     PRIMARY KEY,
    schema_name   text        NOT NULL UNIQUE,
    state         text        NOT NULL CHECK (state IN ('building', 'live', 'retired', 'dropped')),
    created_at    timestamptz NOT NULL DEFAULT statement_timestamp(),
    switched_at   timestamptz,
    built_to      bigint
);
