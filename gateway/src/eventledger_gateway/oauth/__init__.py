"""The gateway's authorization server: OAuth 2.0 client credentials (RFC 6749 §4.4) with rotating EdDSA signing
keys published as a JWKS, and a revocation list shared by every gateway replica (ADR 0024).

- :mod:`.clients`: registered machine clients and their hashed secrets (port + in-memory implementation);
- :mod:`.keys`: signing keys (port + in-memory implementation) and the :class:`~.keys.KeyRing` each gateway keeps;
- :mod:`.revocation`: refused clients and token ids (port, in-memory and Redis implementations);
- :mod:`.postgres`: the PostgreSQL implementations of the client and key ports;
- :mod:`.server`: issuing and revoking tokens, administering clients (no HTTP);
- :mod:`.routes`: the HTTP endpoints.
"""
