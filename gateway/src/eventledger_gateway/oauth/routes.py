"""The authorization server's HTTP endpoints (ADR 0024).

Public: ``POST /oauth/token`` (RFC 6749 §4.4), ``POST /oauth/revoke`` (RFC 7009), the metadata
``/.well-known/oauth-authorization-server`` (RFC 8414) and the keys ``/.well-known/jwks.json`` (RFC 7517).
Role ``admin``: ``/v1/admin/clients`` (create, list, read, disable, enable, rotate a secret) and
``/v1/admin/signing-keys`` (list, rotate now). Token requests are metered per client id before any secret is
checked (the check costs tens of milliseconds of CPU on purpose); admin requests like every fail-closed route.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from eventledger_gateway.auth import Principal, authorize
from eventledger_gateway.gateway import Gateway
from eventledger_gateway.oauth.schemas import (
    ClientAnswer,
    ClientList,
    ClientWithSecret,
    JsonWebKeySet,
    NewClient,
    SecretRotation,
    SigningKeyAnswer,
    SigningKeyList,
    TokenAnswer,
)
from eventledger_gateway.oauth.server import GRANT_TYPE, AuthorizationServer, client_credentials, oauth_error
from eventledger_gateway.ratelimit import RateLimiter, RateLimiterUnavailable
from eventledger_gateway.routetable import Role

MAX_FORM_BYTES = 8192
FORM = "application/x-www-form-urlencoded"
_PROBLEM: dict[str, Any] = {
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return dict.fromkeys(statuses, _PROBLEM)


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
                        "scope": {"type": "string", "maxLength": 1000},
                        "client_id": {"type": "string", "maxLength": 200},
                        "client_secret": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    },
    "security": [{"clientBasic": []}, {}],
}
_REVOKE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {"type": "string", "maxLength": 4000},
                        "token_type_hint": {"type": "string", "maxLength": 50},
                        "client_id": {"type": "string", "maxLength": 200},
                        "client_secret": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    },
    "security": [{"clientBasic": []}, {}],
}
ADMIN_ONLY = "Role: `admin`."


def _admin_doc(summary: str, answer: type[Any], *, not_found: bool = False, created: bool = False) -> dict[str, Any]:
    """What every admin route's OpenAPI entry says: its role, bearer security and the problems it can answer."""
    statuses = (401, 403, 404, 429, 503) if not_found else (401, 403, 429, 503)
    return {
        "summary": summary,
        "response_model": answer,
        "status_code": 201 if created else 200,
        "responses": _problems(*statuses),
        "description": ADMIN_ONLY,
        "openapi_extra": {"security": [{"bearerAuth": []}]},
    }


public = APIRouter(tags=["authorization"])
admin = APIRouter(prefix="/v1/admin", tags=["operations"])


def _server(request: Request) -> AuthorizationServer:
    server: AuthorizationServer = request.app.state.authorization_server
    return server


async def _admin(request: Request) -> Principal:
    """The caller, holding the admin role and within its rate limit."""
    gateway: Gateway = request.app.state.gateway
    principal = await gateway.verifier.authenticate(request.headers.get("authorization"))
    authorize(principal, Role.ADMIN)
    await gateway.admit(principal, request.url.path, fail_closed=True)
    return principal


Admin = Annotated[Principal, Depends(_admin)]
Server = Annotated[AuthorizationServer, Depends(_server)]


@public.post(
    "/oauth/token",
    summary="Obtain an access token with client credentials (RFC 6749 §4.4)",
    response_model=TokenAnswer,
    responses=_problems(400, 401, 415, 429, 503),
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request, server: Server) -> Response:
    form = await _form(request)
    credentials = client_credentials(request.headers.get("authorization"), form)
    await _meter(request, credentials.client_id)
    issued = await server.issue(credentials, form.get("grant_type"), form.get("scope"))
    answer = TokenAnswer(
        access_token=issued.access_token, token_type=issued.token_type, expires_in=issued.expires_in, scope=issued.scope
    )
    # RFC 6749 §5.1: a token answer is never cached.
    return JSONResponse(answer.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@public.post(
    "/oauth/revoke",
    summary="Revoke one of the client's tokens (RFC 7009); 200 whether or not it was valid",
    responses=_problems(400, 401, 415, 429, 503),
    openapi_extra=_REVOKE_FORM,
)
async def revoke(request: Request, server: Server) -> Response:
    form = await _form(request)
    credentials = client_credentials(request.headers.get("authorization"), form)
    await _meter(request, credentials.client_id)
    client = await server.authenticate_client(credentials)
    if not form.get("token"):
        raise oauth_error(400, "invalid_request", "token is missing")
    await server.revoke_token(client, form["token"])
    return Response(status_code=200)


@public.get(
    "/.well-known/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)", response_model=None
)
async def metadata(server: Server) -> dict[str, Any]:
    issuer = server.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": [GRANT_TYPE],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [role.value for role in Role],
    }


@public.get("/.well-known/jwks.json", summary="The published signing keys (RFC 7517)", response_model=JsonWebKeySet)
async def jwks(request: Request) -> Response:
    keys = request.app.state.key_ring.jwks()
    # Short caching is safe: a new key is published at least one refresh interval before it is needed elsewhere,
    # and verifiers refetch on an unknown kid.
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=60"})


@admin.get("/clients", **_admin_doc("List the OAuth clients", ClientList))
async def list_clients(_: Admin, server: Server) -> ClientList:
    return ClientList(clients=[ClientAnswer.of(c) for c in await server.clients()])


@admin.post(
    "/clients", **_admin_doc("Register a client; its secret is in this answer only", ClientWithSecret, created=True)
)
async def create_client(body: NewClient, _: Admin, server: Server) -> Response:
    client, secret = await server.create_client(body.name, [r.value for r in body.roles], list(body.scopes))
    answer = ClientWithSecret.with_secret(client, secret)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})


@admin.get("/clients/{client_id}", **_admin_doc("Read one client", ClientAnswer, not_found=True))
async def get_client(client_id: str, _: Admin, server: Server) -> ClientAnswer:
    return ClientAnswer.of(await server.client(client_id))


@admin.post(
    "/clients/{client_id}/disable",
    **_admin_doc(
        "Disable a client: no new token, and its tokens are refused from the next request", ClientAnswer, not_found=True
    ),
)
async def disable_client(client_id: str, _: Admin, server: Server) -> ClientAnswer:
    return ClientAnswer.of(await server.disable(client_id))


@admin.post(
    "/clients/{client_id}/enable",
    **_admin_doc(
        "Enable a client again (tokens refused while it was disabled stay refused)", ClientAnswer, not_found=True
    ),
)
async def enable_client(client_id: str, _: Admin, server: Server) -> ClientAnswer:
    return ClientAnswer.of(await server.enable(client_id))


@admin.post(
    "/clients/{client_id}/rotate-secret",
    **_admin_doc("Give a client a new secret; the old one stops working at once", ClientWithSecret, not_found=True),
)
async def rotate_secret(client_id: str, body: SecretRotation, _: Admin, server: Server) -> Response:
    client, secret = await server.rotate_secret(client_id, revoke_tokens=body.revoke_tokens)
    answer = ClientWithSecret.with_secret(client, secret)
    return JSONResponse(answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@admin.get("/signing-keys", **_admin_doc("The published signing keys and which one signs", SigningKeyList))
async def list_signing_keys(request: Request, _: Admin) -> SigningKeyList:
    ring = request.app.state.key_ring
    await ring.load()
    return SigningKeyList(keys=[SigningKeyAnswer.of(k) for k in ring.published()])


@admin.post(
    "/signing-keys/rotate",
    **_admin_doc(
        "Replace the signing key now; the previous one stays published until its last token expires",
        SigningKeyAnswer,
        created=True,
    ),
)
async def rotate_signing_key(request: Request, _: Admin) -> SigningKeyAnswer:
    return SigningKeyAnswer.of(await request.app.state.key_ring.rotate())


async def _form(request: Request) -> dict[str, str]:
    """The form of a token or revocation request: form-encoded UTF-8, each parameter at most once (RFC 6749 §3.2)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise oauth_error(400, "invalid_request", f"the body must be {FORM}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise oauth_error(400, "invalid_request", f"the form may hold at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise oauth_error(400, "invalid_request", "the body is not a UTF-8 form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise oauth_error(400, "invalid_request", f"{name[:50]} is given more than once")
        if "\x00" in value:
            raise oauth_error(400, "invalid_request", f"{name[:50]} holds a NUL character")
        form[name] = value
    return form


async def _meter(request: Request, client_id: str) -> None:
    limiter: RateLimiter = request.app.state.token_limiter
    try:
        decision = await limiter.acquire(client_id)
    except RateLimiterUnavailable:
        raise oauth_error(
            503, "temporarily_unavailable", "the rate limiter cannot be reached; try again", {"Retry-After": "2"}
        ) from None
    if not decision.allowed:
        raise oauth_error(
            429,
            "too_many_requests",
            f"too many token requests for this client; try again in {decision.retry_after_header} s",
            {"Retry-After": decision.retry_after_header},
        )
