"""Bearer JWT authentication and role authorization.

Two kinds of token are accepted:
- the gateway's own (ADR 0024): ``EdDSA`` with the ``kid`` of a published signing key, this gateway's issuer and
  audience, ``exp``, ``iat``, ``sub``, ``jti`` and ``client_id`` present, and not on the revocation list;
- another issuer's, with the one configured algorithm and key (``jwt_algorithm``: HS256 development tokens, or
  RS256/ES256 with a public key; ``off`` accepts none).

Contract of :meth:`TokenVerifier.authenticate`: given the ``Authorization`` header, it answers the
:class:`Principal` (the token's ``sub`` and the known roles of its ``roles`` claim) or raises a 401
:class:`~eventledger_gateway.problems.Problem` with a ``WWW-Authenticate`` challenge (RFC 6750 §3):
no header (no error code), a malformed header (``invalid_request``), or a token that is not valid now
(``invalid_token``: bad signature, an algorithm not accepted, an unknown or no longer published key, expired, not
yet valid, wrong issuer or audience, a required claim missing, a ``roles`` claim that is not a list of strings,
revoked). When the revocation list cannot be read it raises 503 (fail closed).

A token that passed every check is remembered (at most :data:`VERIFIED_CACHE_SIZE`, by its exact text) with its
claims, so that the next request with it skips parsing and the signature check (ADR 0036: an eighth of the
gateway's CPU per request). Its times (``exp``, ``nbf``, ``iat``, with the leeway) are checked again on every
request, and so are the checks that can change while it is valid: its key still published, and not revoked.
:func:`authorize` raises a 403 problem when the principal lacks the route's role.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from eventledger_gateway.oauth.keys import ALGORITHM as OWN_ALGORITHM
from eventledger_gateway.oauth.keys import KeyRing
from eventledger_gateway.oauth.revocation import RevocationList, RevocationListUnavailable
from eventledger_gateway.problems import Problem
from eventledger_gateway.routetable import Role
from eventledger_runtime.settings import GatewaySettings

REALM = "eventledger"
VERIFIED_CACHE_SIZE = 4096
MAX_SUBJECT_LENGTH = 200
_KNOWN_ROLES = frozenset(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent the request: the token's subject and its roles."""

    subject: str
    roles: frozenset[str]
    client_id: str | None = None
    """Set for the gateway's own tokens: the client that obtained it."""


class TokenVerifier:
    """Verifies bearer tokens: the gateway's own against the published keys and the revocation list, others with
    the configured algorithm and key (the only other algorithm accepted)."""

    def __init__(
        self, settings: GatewaySettings, keys: KeyRing | None = None, revocations: RevocationList | None = None
    ) -> None:
        self._key = settings.verification_key
        self._algorithms = [settings.jwt_algorithm]
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        required = ["exp", "sub"]
        required += ["iss"] if self._issuer else []
        required += ["aud"] if self._audience else []
        self._options: jwt.types.Options = {"require": required, "verify_aud": self._audience is not None}
        self._keys = keys
        self._revocations = revocations
        self._own_issuer = settings.oauth_issuer
        self._own_audience = settings.oauth_audience
        self._own_options: jwt.types.Options = {"require": ["exp", "iat", "sub", "jti", "iss", "aud"]}
        self._verified: dict[str, tuple[dict[str, Any], float, float, str | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer_token(authorization)
        remembered = self._recall(token)
        if remembered is not None:
            claims, kid = remembered
            if kid is None:
                return _principal(claims)
            await self._published_key(kid)
            return await self._own_principal(claims)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid_token(f"the token is not valid: {_reason(exc)}") from None
        if header.get("alg") == OWN_ALGORITHM and self._keys is not None:
            return await self._own(token, header.get("kid"))
        return self._external(token)

    def _external(self, token: str) -> Principal:
        if self._key is None:
            raise _invalid_token(f"only tokens issued by this gateway ({self._own_issuer}/oauth/token) are accepted")
        claims = self._decode(token, self._key, self._algorithms, self._issuer, self._audience, self._options)
        self._remember(token, claims, None)
        return _principal(claims)

    async def _own(self, token: str, kid: object) -> Principal:
        key = await self._published_key(kid)
        claims = self._decode(token, key, [OWN_ALGORITHM], self._own_issuer, self._own_audience, self._own_options)
        principal = await self._own_principal(claims)
        assert isinstance(kid, str)  # a published key has a kid
        self._remember(token, claims, kid)
        return principal

    async def _published_key(self, kid: object) -> Ed25519PublicKey:
        assert self._keys is not None
        key = await self._keys.public_key(kid) if isinstance(kid, str) and kid else None
        if key is None:
            raise _invalid_token("the token is signed with a key that is unknown or no longer published")
        return key

    async def _own_principal(self, claims: dict[str, Any]) -> Principal:
        """The principal of one of our own tokens whose signature checked out, unless it was revoked."""
        client_id, jti, issued_at = claims.get("client_id"), claims["jti"], claims["iat"]
        if not isinstance(client_id, str) or not isinstance(jti, str) or not isinstance(issued_at, int):
            raise _invalid_token("the token's client_id, jti and iat must be present")
        if self._revocations is not None:
            try:
                revoked = await self._revocations.refused(client_id, jti, issued_at)
            except RevocationListUnavailable:
                raise Problem(
                    503,
                    "revocation_list_unavailable",
                    "Service unavailable",
                    "the revocation list cannot be read, so no issued token is accepted; nothing was done, try again",
                    headers={"Retry-After": "2"},
                ) from None
            if revoked:
                raise _invalid_token("the token was revoked")
        principal = _principal(claims)
        return Principal(principal.subject, principal.roles, client_id)

    def _decode(
        self,
        token: str,
        key: str | Ed25519PublicKey,
        algorithms: Sequence[str],
        issuer: str | None,
        audience: str | None,
        options: jwt.types.Options,
    ) -> dict[str, Any]:
        """The token's claims once its signature, times, issuer and audience check out; else 401."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=issuer,
                audience=audience,
                leeway=self._leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise _invalid_token("the token expired") from None
        except jwt.PyJWTError as exc:
            raise _invalid_token(f"the token is not valid: {_reason(exc)}") from None

    def _recall(self, token: str) -> tuple[dict[str, Any], str | None] | None:
        """The claims and key id (None: another issuer's token) of a remembered token still within its times; a
        token out of them is forgotten, and the full check then says why."""
        remembered = self._verified.get(token)
        if remembered is None:
            return None
        claims, valid_from, valid_until, kid = remembered
        if valid_from <= time.time() < valid_until:
            return claims, kid
        del self._verified[token]
        return None

    def _remember(self, token: str, claims: dict[str, Any], kid: str | None) -> None:
        """Keep a token whose every check passed, with the times it stays valid in (PyJWT's rules: valid while now <
        exp + leeway, and from nbf - leeway and iat - leeway on); a token without a numeric ``exp`` is not kept."""
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            return
        starts = [int(value) for name in ("nbf", "iat") if isinstance(value := claims.get(name), int | float)]
        valid_from = max(starts, default=float("-inf")) - self._leeway
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (claims, valid_from, int(expires) + self._leeway, kid)


def authorize(principal: Principal, role: Role) -> None:
    """Raise 403 unless ``principal`` holds ``role``."""
    if role.value not in principal.roles:
        held = ", ".join(sorted(principal.roles)) or "none"
        raise Problem(
            403,
            "forbidden",
            "Forbidden",
            f"this endpoint needs the role '{role.value}'; the token's roles: {held}",
            required_role=role.value,
        )


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise Problem(
            401,
            "authentication_required",
            "Authentication required",
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "invalid_request",
            "Malformed credentials",
            "the Authorization header must be: Bearer <token>",
            headers={"WWW-Authenticate": _challenge("invalid_request", "expected a bearer token")},
        )
    return token.strip()


def _principal(claims: dict[str, object]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
        raise _invalid_token(f"the token's sub must be a non-empty string of at most {MAX_SUBJECT_LENGTH} characters")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _invalid_token("the token's roles claim must be a list of strings")
    return Principal(subject.strip(), frozenset(roles) & _KNOWN_ROLES)


def _invalid_token(detail: str) -> Problem:
    return Problem(
        401,
        "invalid_token",
        "Invalid token",
        detail,
        headers={"WWW-Authenticate": _challenge("invalid_token", detail)},
    )


def _challenge(error: str, description: str) -> str:
    safe = description.replace("\\", "").replace('"', "'")
    return f'Bearer realm="{REALM}", error="{error}", error_description="{safe}"'


def _reason(exc: jwt.PyJWTError) -> str:
    """A short reason that names what is wrong without echoing the token."""
    text = str(exc).strip() or type(exc).__name__
    return text[:120]
