-- One version of the PostgreSQL read model. Each version lives in its own schema (<base>_v<N>); the stable schema
-- <base> holds views onto the live version, re-pointed in one transaction when a rebuild switches
-- (docs/adr/0007-projection-runtime.md). Rows are guarded by the stream version they reflect: an event whose
-- stream_version is not above the row's version is skipped, so redelivery and replay change nothing.

-- GET /v1/accounts/{id} and GET /v1/accounts?status=&currency=&holder=&cursor= (cursor: account_id).
CREATE TABLE accounts (
    account_id       uuid        PRIMARY KEY,
    holder_name      text        NOT NULL,
    currency         text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('open', 'frozen', 'closed')),
    balance          bigint      NOT NULL,
    overdraft_limit  bigint      NOT NULL,
    held             bigint      NOT NULL,
    available        bigint      GENERATED ALWAYS AS (balance + overdraft_limit - held) STORED,
    version          bigint      NOT NULL,
    position         bigint      NOT NULL,
    opened_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX accounts_status_idx ON accounts (status, account_id);
CREATE INDEX accounts_currency_idx ON accounts (currency, status, account_id);
-- holder= is a case-insensitive prefix: lower(holder_name) LIKE lower(:holder) || '%'
CREATE INDEX accounts_holder_idx ON accounts (lower(holder_name) text_pattern_ops, account_id);

-- GET /v1/accounts/{id}/entries?from=&to=&cursor= (order and cursor: posted_at, position).
-- amount is signed: positive for a credit, negative for a debit. One row per account event, keyed by its position.
CREATE TABLE account_entries (
    account_id     uuid        NOT NULL,
    position       bigint      NOT NULL,
    transfer_id    uuid        NOT NULL,
    amount         bigint      NOT NULL,
    balance_after  bigint      NOT NULL,
    description    text        NOT NULL,
    posted_at      timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    PRIMARY KEY (account_id, position)
);

CREATE INDEX account_entries_time_idx ON account_entries (account_id, posted_at, position);

-- GET /v1/transfers/{id}. position is that of the last event applied to the row.
CREATE TABLE transfers (
    transfer_id      uuid        PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('transfer', 'deposit', 'withdrawal')),
    from_account_id  uuid        NOT NULL,
    to_account_id    uuid        NOT NULL,
    amount           bigint      NOT NULL,
    currency         text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    description      text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    expires_at       timestamptz,
    version          bigint      NOT NULL,
    position         bigint      NOT NULL
);
