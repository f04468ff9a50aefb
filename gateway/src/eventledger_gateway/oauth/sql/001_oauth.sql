-- The authorization server's tables (ADR 0024). Secrets are stored as argon2 hashes, private keys encrypted.
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id          text PRIMARY KEY,
    name               text NOT NULL,
    secret_hash        text NOT NULL,
    roles              text[] NOT NULL,
    scopes             text[] NOT NULL,
    created_at         timestamptz NOT NULL,
    secret_rotated_at  timestamptz NOT NULL,
    disabled_at        timestamptz
);

CREATE TABLE IF NOT EXISTS oauth_signing_keys (
    kid                  text PRIMARY KEY,
    algorithm            text NOT NULL,
    private_key          bytea NOT NULL,  -- PKCS#8, encrypted with the key-encryption key
    public_jwk           jsonb NOT NULL,
    created_at           timestamptz NOT NULL,
    retired_at           timestamptz,     -- when a newer key took over signing
    published_until      timestamptz      -- retired_at + the longest life of a token it signed
);

-- At most one key signs at a time.
CREATE UNIQUE INDEX IF NOT EXISTS oauth_signing_keys_one_active ON oauth_signing_keys ((true)) WHERE retired_at IS NULL;
