"""Minting tokens for development (the CLI's ``token`` command) and for tests.

Contract: :func:`mint_token` signs with the configured algorithm; the token carries ``sub``, ``roles``, ``iat``,
``exp`` (now + ``ttl_seconds``) and, when configured, ``iss`` and ``aud``, so that the same settings' verifier
accepts it. HMAC algorithms sign with the configured secret; RS256/ES256 need the private key in PEM.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import jwt

from eventledger_runtime.settings import HMAC_ALGORITHMS, GatewaySettings


def mint_token(
    settings: GatewaySettings,
    roles: Iterable[str],
    *,
    subject: str = "developer",
    ttl_seconds: int = 3600,
    private_key: str | None = None,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_algorithm in HMAC_ALGORITHMS:
        key = settings.jwt_secret.get_secret_value()
    elif private_key is None:
        raise ValueError(f"{settings.jwt_algorithm} tokens are signed with a private key: give one")
    else:
        key = private_key
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)
