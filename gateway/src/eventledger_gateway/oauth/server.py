"""Issuing, checking and revoking access tokens, and administering clients (the HTTP layer is :mod:`.routes`).

Contract of :meth:`AuthorizationServer.issue` (RFC 6749 §4.4 client credentials): the client authenticates with
its id and secret (HTTP Basic, or ``client_id``/``client_secret`` in the form, never both); an unknown id, a
wrong secret or a disabled client are one answer, 401 ``invalid_client``; ``grant_type`` other than
``client_credentials`` is 400 ``unsupported_grant_type``; a requested ``scope`` outside the client's roles and
scopes is 400 ``invalid_scope``; no signing key yet (PostgreSQL unreachable at start) is 503. An issued token is a
JWS signed with the active Ed25519 key (``kid`` in its header) carrying ``iss``, ``aud``, ``sub`` (the client id),
``client_id``, ``jti``, ``iat``, ``nbf``, ``exp`` (``iat`` + the token lifetime), ``roles`` and ``scope``.
Without ``scope`` a token carries all the client's roles and scopes; with it, only those asked for (a client with
writer and reader may ask for a reader-only token).

Every error is a problem+json that also carries RFC 6749's ``error`` and ``error_description`` members, so that
both a problem-aware client and an OAuth library read it.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt

from eventledger_gateway.oauth.clients import (
    Client,
    ClientRegistry,
    SecretHasher,
    StoredClient,
    is_client_id,
    new_client_id,
    new_secret,
)
from eventledger_gateway.oauth.keys import ALGORITHM, KeyRing
from eventledger_gateway.oauth.revocation import RevocationList
from eventledger_gateway.problems import Problem

GRANT_TYPE = "client_credentials"
MAX_CREDENTIAL_LENGTH = 200


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Problem:
    """A problem+json that is also an RFC 6749 §5.2 error response."""
    titles = {
        "invalid_request": "Invalid token request",
        "invalid_client": "Client authentication failed",
        "unsupported_grant_type": "Unsupported grant type",
        "invalid_scope": "Invalid scope",
        "temporarily_unavailable": "Token service unavailable",
    }
    return Problem(
        status,
        error,
        titles.get(error, "Invalid token request"),
        description,
        headers=headers,
        error=error,
        error_description=description,
    )


def _invalid_client() -> Problem:
    # One answer for an unknown client, a wrong secret and a disabled client: nothing to learn by probing.
    return oauth_error(
        401,
        "invalid_client",
        "the client id and secret do not match an enabled client",
        {"WWW-Authenticate": 'Basic realm="eventledger", charset="UTF-8"'},
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str


def client_credentials(authorization: str | None, form: dict[str, str]) -> Credentials:
    """The client's id and secret, from ``Authorization: Basic`` (RFC 6749 §2.3.1: each part form-encoded) or
    from the form; 400 when both or neither are given, or they are malformed."""
    in_form = "client_id" in form or "client_secret" in form
    if authorization:
        if in_form:
            raise oauth_error(400, "invalid_request", "authenticate with Basic or with the form, not both")
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise _invalid_client()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise oauth_error(400, "invalid_request", "the Basic credentials are not base64 of id:secret") from None
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            raise oauth_error(400, "invalid_request", "the Basic credentials are not base64 of id:secret")
        return _checked(unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " ")))
    if not in_form:
        raise _invalid_client()
    return _checked(form.get("client_id", ""), form.get("client_secret", ""))


def _checked(client_id: str, secret: str) -> Credentials:
    if not client_id or not secret:
        raise oauth_error(400, "invalid_request", "both client_id and client_secret are needed")
    if len(client_id) > MAX_CREDENTIAL_LENGTH or len(secret) > MAX_CREDENTIAL_LENGTH:
        raise _invalid_client()
    return Credentials(client_id, secret)


class AuthorizationServer:
    def __init__(
        self,
        clients: ClientRegistry,
        keys: KeyRing,
        revocations: RevocationList,
        hasher: SecretHasher,
        *,
        issuer: str,
        audience: str,
        token_lifetime_seconds: int,
        revocation_hold_seconds: float,
    ) -> None:
        self._clients = clients
        self._keys = keys
        self._revocations = revocations
        self._hasher = hasher
        self.issuer = issuer
        self.audience = audience
        self._lifetime = token_lifetime_seconds
        self._hold = revocation_hold_seconds

    # ------------------------------------------------------------------------------------------ tokens
    async def issue(self, credentials: Credentials, grant_type: str | None, scope: str | None) -> IssuedToken:
        if not grant_type:
            raise oauth_error(400, "invalid_request", "grant_type is missing")
        if grant_type != GRANT_TYPE:
            raise oauth_error(400, "unsupported_grant_type", f"only grant_type={GRANT_TYPE} is supported")
        client = await self.authenticate_client(credentials)
        granted = self._granted(client, scope)
        signing = self._keys.signing_key()
        if signing is None:
            raise oauth_error(
                503,
                "temporarily_unavailable",
                "no signing key is available yet; try again shortly",
                {"Retry-After": "2"},
            )
        kid, private_key = signing
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client.client_id,
            "client_id": client.client_id,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime,
            "roles": sorted(set(client.roles) & granted),
            "scope": " ".join(sorted(granted)),
        }
        token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})
        return IssuedToken(token, self._lifetime, claims["scope"])

    async def authenticate_client(self, credentials: Credentials) -> Client:
        stored = await self._clients.get(credentials.client_id) if is_client_id(credentials.client_id) else None
        matches = await self._hasher.matches(None if stored is None else stored.secret_hash, credentials.client_secret)
        if stored is None or not matches or not stored.client.enabled:
            raise _invalid_client()
        return stored.client

    def _granted(self, client: Client, scope: str | None) -> frozenset[str]:
        if scope is None or not scope.strip():
            return client.grantable
        asked = frozenset(scope.split())
        unknown = asked - client.grantable
        if unknown:
            raise oauth_error(400, "invalid_scope", f"this client may not ask for: {' '.join(sorted(unknown))[:200]}")
        return asked

    async def revoke_token(self, client: Client, token: str) -> None:
        """RFC 7009: the client's own token is refused from now on. A token that is not one of ours, not the
        client's, or already expired is no error (§2.2: the answer is 200 either way)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return
        key = await self._keys.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            return
        try:
            verified = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer)
        except jwt.PyJWTError:
            return
        if verified.get("client_id") != client.client_id or not isinstance(verified.get("jti"), str):
            return
        await self._revocations.revoke_token(verified["jti"], float(verified["exp"]))

    # ------------------------------------------------------------------------------------------ clients
    async def create_client(self, name: str, roles: list[str], scopes: list[str]) -> tuple[Client, str]:
        """A new enabled client and its secret (shown this once)."""
        secret = new_secret()
        now = datetime.now(UTC)
        client = Client(new_client_id(), name, tuple(sorted(set(roles))), tuple(sorted(set(scopes))), now, now)
        await self._clients.add(StoredClient(client, await self._hasher.hash(secret)))
        return client, secret

    async def clients(self) -> list[Client]:
        return await self._clients.all()

    async def client(self, client_id: str) -> Client:
        stored = await self._clients.get(client_id) if is_client_id(client_id) else None
        if stored is None:
            raise _no_such_client(client_id)
        return stored.client

    async def disable(self, client_id: str) -> Client:
        """Disable the client and refuse every token it holds from the next request, on every gateway. The
        revocation is written first: if the registry then fails, the call is repeated, and nothing it issued
        before passes meanwhile."""
        await self.client(client_id)
        now = time.time()
        await self._revocations.revoke_client(client_id, now, hold_seconds=self._hold)
        updated = await self._clients.set_disabled(client_id, datetime.fromtimestamp(now, UTC))
        if updated is None:
            raise _no_such_client(client_id)
        return updated

    async def enable(self, client_id: str) -> Client:
        """Enable the client again: it may obtain new tokens; the ones refused when it was disabled stay refused."""
        await self.client(client_id)
        updated = await self._clients.set_disabled(client_id, None)
        if updated is None:
            raise _no_such_client(client_id)
        return updated

    async def rotate_secret(self, client_id: str, *, revoke_tokens: bool) -> tuple[Client, str]:
        """A new secret (shown this once); the old one stops working at once. With ``revoke_tokens`` the tokens
        issued with the old secret are refused too (a leaked secret); without, they live out their lifetime."""
        await self.client(client_id)
        secret = new_secret()
        secret_hash = await self._hasher.hash(secret)
        now = time.time()
        if revoke_tokens:
            await self._revocations.revoke_client(client_id, now, hold_seconds=self._hold)
        updated = await self._clients.replace_secret(client_id, secret_hash, datetime.fromtimestamp(now, UTC))
        if updated is None:
            raise _no_such_client(client_id)
        return updated, secret


def _no_such_client(client_id: str) -> Problem:
    shown = client_id[:100].encode("unicode_escape").decode("ascii")  # a NUL or a lone surrogate, shown escaped
    return Problem(404, "client_not_found", "Client not found", f"no client has the id '{shown}'")
