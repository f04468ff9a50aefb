"""The authorization server in process (clients, keys and revocations in memory): client credentials, what a token
carries, every refusal of the token endpoint, revocation by disabling, by secret rotation and by RFC 7009, key
rotation, and the admin routes' role matrix. The same flow on PostgreSQL and Redis, across two gateways and with a
real OAuth client library, is tests/e2e/gateway/test_oauth_clients.py."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.support.gateway import LOCAL_SPEC, bearer

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

ISSUER = "http://127.0.0.1:18080"
AUDIENCE = "eventledger-api"
ACCOUNTS = "/v1/accounts"  # reader; nothing listens upstream, so a request that passes auth is answered 503


@pytest.fixture
def client(settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _admin(client: TestClient, settings: GatewaySettings) -> dict[str, str]:
    return bearer(settings, "admin")


def _register(
    client: TestClient, settings: GatewaySettings, *roles: str, scopes: tuple[str, ...] = ()
) -> dict[str, Any]:
    answer = client.post(
        "/v1/admin/clients",
        json={"name": "reporting", "roles": list(roles), "scopes": list(scopes)},
        headers=_admin(client, settings),
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return dict(answer.json())


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _token(client: TestClient, registered: dict[str, Any], **form: str) -> Any:
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers=_basic(registered["client_id"], registered["client_secret"]),
    )


def _access(client: TestClient, registered: dict[str, Any], **form: str) -> str:
    answer = _token(client, registered, **form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _get(client: TestClient, token: str, path: str = ACCOUNTS) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _passes_auth(client: TestClient, token: str) -> bool:
    status: int = _get(client, token).status_code
    assert status in {401, 503}, status
    return status == 503


def _claims(client: TestClient, token: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = {key["kid"]: key for key in client.get("/.well-known/jwks.json").json()["keys"]}
    public = jwt.algorithms.OKPAlgorithm.from_jwk(keys[kid])
    return dict(jwt.decode(token, public, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER))  # type: ignore[arg-type]


def test_a_registered_client_obtains_a_token_that_carries_what_the_issue_asks(
    client: TestClient, settings: GatewaySettings
) -> None:
    registered = _register(client, settings, "reader", "writer")
    answer = _token(client, registered)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 900, "reader writer")
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    claims = _claims(client, body["access_token"])
    assert claims["sub"] == claims["client_id"] == registered["client_id"]
    assert sorted(claims["roles"]) == ["reader", "writer"]
    assert {"iss", "aud", "jti", "iat", "nbf", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    assert _passes_auth(client, body["access_token"])


def test_credentials_in_the_form_work_too(client: TestClient, settings: GatewaySettings) -> None:
    registered = _register(client, settings, "reader")
    answer = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
        },
    )
    assert answer.status_code == 200


def test_a_scope_narrows_the_token_and_one_outside_the_client_is_refused(
    client: TestClient, settings: GatewaySettings
) -> None:
    registered = _register(client, settings, "reader", "writer", scopes=("reports:export",))
    narrow = _access(client, registered, scope="reader")
    assert _claims(client, narrow)["roles"] == ["reader"]
    post = client.post("/v1/deposits", json={}, headers={"Authorization": f"Bearer {narrow}"})
    assert post.status_code == 403
    extra = _claims(client, _access(client, registered, scope="reports:export reader"))
    assert (extra["scope"], extra["roles"]) == ("reader reports:export", ["reader"])
    refused = _token(client, registered, scope="reader admin")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert "admin" in refused.json()["error_description"]


def _basic_of(text: bytes) -> str:
    return "Basic " + base64.b64encode(text).decode()


FORM = "grant_type=client_credentials"
# Each bad request: (its form, the headers changed from a good request, the OAuth error, the status).
BAD_TOKEN_REQUESTS: dict[str, tuple[str, dict[str, str | None], str, int]] = {
    "wrong secret": (FORM, {"Authorization": "{id}:not-the-secret"}, "invalid_client", 401),
    "unknown client": (FORM, {"Authorization": "client-00000000000000000000:{secret}"}, "invalid_client", 401),
    "malformed client id": (FORM, {"Authorization": "client-%00:{secret}"}, "invalid_client", 401),
    "no credentials": (FORM, {"Authorization": None}, "invalid_client", 401),
    "bearer instead of basic": (FORM, {"Authorization": "Bearer something"}, "invalid_client", 401),
    "both basic and form": (FORM + "&client_id={id}&client_secret=x", {}, "invalid_request", 400),
    "basic without colon": (FORM, {"Authorization": _basic_of(b"no-colon")}, "invalid_request", 400),
    "basic not base64": (FORM, {"Authorization": "Basic %%%"}, "invalid_request", 400),
    "no grant type": ("scope=reader", {}, "invalid_request", 400),
    "password grant": ("grant_type=password", {}, "unsupported_grant_type", 400),
    "repeated parameter": (FORM + "&scope=reader&scope=reader", {}, "invalid_request", 400),
    "json body": ('{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}, "invalid_request", 400),
    "nul in a value": (FORM + "&scope=reader%00", {}, "invalid_request", 400),
}


@pytest.mark.parametrize("how", sorted(BAD_TOKEN_REQUESTS))
def test_every_bad_token_request_is_a_problem_and_an_oauth_error(
    client: TestClient, settings: GatewaySettings, how: str
) -> None:
    registered = _register(client, settings, "reader")
    form, changes, error, status = BAD_TOKEN_REQUESTS[how]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **_basic(registered["client_id"], registered["client_secret"]),
    }
    for name, value in changes.items():
        if value is None:
            del headers[name]
        elif "{id}:" in value or ":{secret}" in value:
            pair = value.format(id=registered["client_id"], secret=registered["client_secret"])
            headers[name] = _basic_of(pair.encode())
        else:
            headers[name] = value
    answer = client.post("/oauth/token", content=form.replace("{id}", registered["client_id"]), headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["error"], body["status"]) == (error, status)
    assert body["error_description"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic ")
    assert registered["client_secret"] not in answer.text


def test_a_disabled_client_gets_no_token_and_its_tokens_are_refused_from_the_next_request(
    client: TestClient, settings: GatewaySettings
) -> None:
    registered = _register(client, settings, "reader")
    token = _access(client, registered)
    assert _passes_auth(client, token)
    disabled = client.post(f"/v1/admin/clients/{registered['client_id']}/disable", headers=_admin(client, settings))
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    refused = _get(client, token)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the token was revoked"
    assert _token(client, registered).json()["error"] == "invalid_client"
    enabled = client.post(f"/v1/admin/clients/{registered['client_id']}/enable", headers=_admin(client, settings))
    assert enabled.json()["enabled"] is True
    assert not _passes_auth(client, token), "a token refused when its client was disabled stays refused"
    time.sleep(1.01)  # revocation is by issue time in whole seconds (iat); a token of the next second is new
    assert _passes_auth(client, _access(client, registered))


def test_a_rotated_secret_replaces_the_old_one_and_may_revoke_its_tokens(
    client: TestClient, settings: GatewaySettings
) -> None:
    registered = _register(client, settings, "reader")
    kept = _access(client, registered)
    path = f"/v1/admin/clients/{registered['client_id']}/rotate-secret"
    rotated = client.post(path, json={}, headers=_admin(client, settings)).json()
    assert rotated["client_secret"] != registered["client_secret"]
    assert _token(client, registered).status_code == 401
    assert _passes_auth(client, kept), "without revoke_tokens the tokens live out their lifetime"
    fresh = _access(client, rotated)
    again = client.post(path, json={"revoke_tokens": True}, headers=_admin(client, settings))
    assert again.status_code == 200
    assert not _passes_auth(client, kept)
    assert not _passes_auth(client, fresh)


def test_a_client_revokes_its_own_token_and_only_its_own(client: TestClient, settings: GatewaySettings) -> None:
    mine, other = _register(client, settings, "reader"), _register(client, settings, "reader")
    token, others = _access(client, mine), _access(client, other)
    not_mine = client.post(
        "/oauth/revoke", data={"token": others}, headers=_basic(mine["client_id"], mine["client_secret"])
    )
    assert not_mine.status_code == 200, "RFC 7009 §2.2: the answer does not tell whether the token was revoked"
    assert _passes_auth(client, others)
    revoked = client.post(
        "/oauth/revoke", data={"token": token}, headers=_basic(mine["client_id"], mine["client_secret"])
    )
    assert revoked.status_code == 200
    assert not _passes_auth(client, token)
    garbage = client.post(
        "/oauth/revoke", data={"token": "not-a-token"}, headers=_basic(mine["client_id"], mine["client_secret"])
    )
    assert garbage.status_code == 200
    anonymous = client.post("/oauth/revoke", data={"token": token})
    assert anonymous.status_code == 401


def test_tokens_signed_before_a_key_rotation_keep_working_and_new_ones_use_the_new_key(
    settings: GatewaySettings,
) -> None:
    quick = settings.model_copy(update={"signing_key_refresh_seconds": 0.1})
    with TestClient(create_app(quick), raise_server_exceptions=False) as client:
        _rotate_keys(client, quick)


def _rotate_keys(client: TestClient, settings: GatewaySettings) -> None:
    registered = _register(client, settings, "reader")
    before = _access(client, registered)
    rotated = client.post("/v1/admin/signing-keys/rotate", headers=_admin(client, settings))
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    meanwhile = _access(client, registered)
    assert jwt.get_unverified_header(meanwhile)["kid"] == jwt.get_unverified_header(before)["kid"], (
        "the new key signs only once every replica could have loaded it"
    )
    time.sleep(1.2)  # one refresh interval (0.1 s here) and a second
    after = _access(client, registered)
    assert jwt.get_unverified_header(after)["kid"] == new_kid != jwt.get_unverified_header(before)["kid"]
    assert _passes_auth(client, before)
    assert _passes_auth(client, after)
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {new_kid, jwt.get_unverified_header(before)["kid"]}
    keys = client.get("/v1/admin/signing-keys", headers=_admin(client, settings)).json()["keys"]
    assert [(k["kid"] == new_kid, k["active"]) for k in keys] == [(True, True), (False, False)]
    assert keys[1]["published_until"] is not None


@pytest.mark.parametrize(
    "forgery",
    ["alg none", "unknown key", "known kid, other key", "wrong audience", "wrong issuer", "expired", "not yet valid"],
)
def test_a_forged_or_stale_token_is_refused(client: TestClient, settings: GatewaySettings, forgery: str) -> None:
    registered = _register(client, settings, "reader")
    genuine = _access(client, registered)
    claims = _claims(client, genuine)
    kid = jwt.get_unverified_header(genuine)["kid"]
    stranger = Ed25519PrivateKey.generate()
    now = int(time.time())
    if forgery == "alg none":
        token = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})  # type: ignore[arg-type]
    elif forgery == "unknown key":
        token = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "somebody-elses"})
    elif forgery == "known kid, other key":
        token = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid})
    else:
        changed: dict[str, object] = {
            "wrong audience": {"aud": "another-api"},
            "wrong issuer": {"iss": "https://issuer.example"},
            "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            "not yet valid": {"nbf": now + 3600},
        }[forgery]  # type: ignore[assignment]
        # Signed by the gateway's own active key (as a stolen key would): only the claims are wrong.
        signing = client.app.state.key_ring.signing_key()  # type: ignore[attr-defined]
        token = jwt.encode({**claims, **changed}, signing[1], algorithm="EdDSA", headers={"kid": signing[0]})
    refused = _get(client, token)
    assert refused.status_code == 401, forgery
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_the_metadata_names_the_endpoints_and_the_jwks_holds_only_public_keys(client: TestClient) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    jwks = client.get("/.well-known/jwks.json").json()
    assert jwks["keys"]
    for key in jwks["keys"]:
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
        assert "d" not in key, "a private part must never be published"


def test_client_administration_lists_reads_and_never_shows_a_secret_again(
    client: TestClient, settings: GatewaySettings
) -> None:
    registered = _register(client, settings, "auditor")
    listed = client.get("/v1/admin/clients", headers=_admin(client, settings))
    assert registered["client_id"] in [c["client_id"] for c in listed.json()["clients"]]
    one = client.get(f"/v1/admin/clients/{registered['client_id']}", headers=_admin(client, settings))
    assert one.json()["roles"] == ["auditor"]
    assert registered["client_secret"] not in listed.text + one.text
    assert "client_secret" not in one.json()
    missing = client.get("/v1/admin/clients/client-nobody", headers=_admin(client, settings))
    assert (missing.status_code, missing.json()["type"]) == (404, "https://eventledger.dev/problems/client-not-found")
    bad = client.post("/v1/admin/clients", json={"name": "x", "roles": ["superuser"]}, headers=_admin(client, settings))
    assert bad.status_code == 422
    extra = client.post(
        "/v1/admin/clients", json={"name": "x", "roles": ["reader"], "owner": "me"}, headers=_admin(client, settings)
    )
    assert extra.status_code == 422, "mass assignment: unknown members are refused"


CASES = sorted(LOCAL_SPEC.items())


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{m} {p}" for (m, p), _ in CASES])
def test_every_admin_route_answers_401_and_403_and_lets_its_role_through(
    client: TestClient, settings: GatewaySettings, endpoint: tuple[str, str], role: str
) -> None:
    method, path = endpoint
    url = path.replace("{client_id}", "client-nobody")
    body: dict[str, object] | None = {} if method == "POST" else None
    assert client.request(method, url, json=body).status_code == 401
    for other in ("writer", "reader", "auditor"):
        wrong = client.request(method, url, json=body, headers=bearer(settings, other))
        assert wrong.status_code == 403, other
    allowed = client.request(method, url, json=body, headers=bearer(settings, role))
    assert allowed.status_code not in {401, 403}
    assert allowed.status_code < 500
