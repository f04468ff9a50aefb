"""The authorization server as a client team meets it (issue 13's "done when"), on PostgreSQL and Redis, with two
gateway replicas in front of the real command service: a client registered by the admin (API and CLI) obtains its
token with authlib, verifies it against the published JWKS with joserfc, uses it through either replica, keeps
working across a key rotation, and loses access on both replicas when it is disabled. A gateway that cannot read
the revocation list refuses issued tokens (fail closed)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from tests.support.eventstore import isolated_schema
from tests.support.gateway import bearer
from tests.support.http_service import serve
from tests.support.query_service_standin import QueryServiceStandIn
from tests.support.redis_keys import delete_keys
from tests.support.servers import Endpoints

from eventledger_command.bootstrap import Container
from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

REFRESH = 0.5
"""The gateways reload their keys this often here (5 s in production), so a rotation spreads in a second and a half."""


@dataclass
class Replicas:
    urls: tuple[str, str]
    settings: GatewaySettings
    schema_dsn: str
    search_path: str
    namespace: str

    def admin(self) -> dict[str, str]:
        return bearer(self.settings, "admin", subject="ops")

    def register(self, *roles: str) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.urls[0]}/v1/admin/clients",
            json={"name": "reporting", "roles": list(roles)},
            headers=self.admin(),
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def session(self, registered: dict[str, Any], replica: int = 0) -> OAuth2Session:
        """An authlib session that obtains (and when it expires, re-obtains) its token at ``replica``."""
        session = OAuth2Session(
            registered["client_id"],
            registered["client_secret"],
            token_endpoint=f"{self.urls[replica]}/oauth/token",
            token_endpoint_auth_method="client_secret_basic",
        )
        session.fetch_token(grant_type="client_credentials")
        return session


@pytest.fixture(scope="module")
def replicas(
    endpoints: Endpoints, command_service: tuple[str, Container], query_standin: tuple[str, QueryServiceStandIn]
) -> Iterator[Replicas]:
    namespace = f"oauth{uuid.uuid4().hex[:8]}"
    prefix = f"{namespace}:eventledger:gateway:ratelimit:"  # what the CLI derives from EVENTLEDGER_NAMESPACE
    settings = GatewaySettings(
        command_url=command_service[0],
        query_url=query_standin[0],
        redis_url=endpoints.redis_url,
        rate_limit_key_prefix=prefix,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
        signing_key_refresh_seconds=REFRESH,
    )
    with isolated_schema(endpoints.postgres_dsn, prefix="oauth") as dsn:
        search_path = dsn.rsplit("options=", 1)[1]
        with (
            serve(create_app(settings, postgres_dsn=dsn)) as first,
            serve(create_app(settings, postgres_dsn=dsn)) as second,
        ):
            yield Replicas((first, second), settings, dsn, search_path, namespace)
    delete_keys(endpoints.redis_url, prefix)


def _verified_claims(replicas: Replicas, token: str, replica: int) -> dict[str, Any]:
    """What a resource server of the client team does: fetch the JWKS, verify signature and claims."""
    jwks = httpx.get(f"{replicas.urls[replica]}/.well-known/jwks.json", timeout=30).json()
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": replicas.settings.oauth_issuer},
        aud={"essential": True, "value": replicas.settings.oauth_audience},
        exp={"essential": True},
        jti={"essential": True},
    )
    registry.validate(decoded.claims)
    return dict(decoded.claims)


def _open_account(session: OAuth2Session, url: str) -> int:
    answer = session.post(
        f"{url}/v1/accounts",
        json={"holder_name": "Oauth Client", "currency": "EUR"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    return int(answer.status_code)


def test_a_client_obtains_a_token_with_authlib_and_uses_it_through_either_replica(replicas: Replicas) -> None:
    registered = replicas.register("writer", "reader")
    session = replicas.session(registered)
    claims = _verified_claims(replicas, session.token["access_token"], replica=1)
    assert claims["client_id"] == registered["client_id"]
    assert sorted(claims["roles"]) == ["reader", "writer"]
    for url in replicas.urls:
        assert _open_account(session, url) == 201


def test_the_metadata_leads_a_client_to_the_token_endpoint_and_keys(replicas: Replicas) -> None:
    metadata = httpx.get(f"{replicas.urls[1]}/.well-known/oauth-authorization-server", timeout=30).json()
    assert metadata["token_endpoint"].endswith("/oauth/token")
    assert metadata["jwks_uri"].endswith("/.well-known/jwks.json")
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


def test_a_client_keeps_working_across_a_key_rotation_on_another_replica(replicas: Replicas) -> None:
    registered = replicas.register("writer")
    session = replicas.session(registered, replica=0)
    before = session.token["access_token"]
    rotated = httpx.post(f"{replicas.urls[1]}/v1/admin/signing-keys/rotate", headers=replicas.admin(), timeout=30)
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    assert _open_account(session, replicas.urls[0]) == 201, "a token signed before the rotation still works"
    time.sleep(REFRESH + 1.5)  # the new key signs once every replica could have loaded it
    session.fetch_token(grant_type="client_credentials")
    after = session.token["access_token"]
    assert _verified_claims(replicas, after, replica=1)["jti"] != _verified_claims(replicas, before, replica=1)["jti"]
    assert (
        jose_jwt.decode(after, KeySet.import_key_set(_jwks(replicas, 0)), algorithms=["EdDSA"]).header["kid"] == new_kid
    )
    for url in replicas.urls:
        assert _open_account(session, url) == 201
    assert _with_token(before, replicas.urls[1]) == 201, "the retired key stays published for its tokens"


def test_a_disabled_client_loses_access_on_every_replica_at_once(replicas: Replicas) -> None:
    registered = replicas.register("writer")
    session = replicas.session(registered)
    token = session.token["access_token"]
    assert _open_account(session, replicas.urls[1]) == 201
    disabled = httpx.post(
        f"{replicas.urls[0]}/v1/admin/clients/{registered['client_id']}/disable", headers=replicas.admin(), timeout=30
    )
    assert disabled.status_code == 200
    for url in replicas.urls:
        assert _with_token(token, url) == 401
    refused = httpx.post(
        f"{replicas.urls[1]}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(registered["client_id"], registered["client_secret"]),
        timeout=30,
    )
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")


def test_the_cli_registers_and_disables_clients_in_the_same_store(replicas: Replicas) -> None:
    created = _cli(replicas, "create", "--name", "nightly-export", "--role", "reader")
    assert created.returncode == 0, created.stderr
    registered = json.loads(created.stdout)
    session = replicas.session(registered, replica=1)
    assert session.get(f"{replicas.urls[0]}/v1/accounts", timeout=30).status_code == 200
    listed = _cli(replicas, "list")
    assert registered["client_id"] in listed.stdout
    assert registered["client_secret"] not in listed.stdout
    disabled = _cli(replicas, "disable", registered["client_id"])
    assert disabled.returncode == 0, disabled.stderr
    assert session.get(f"{replicas.urls[1]}/v1/accounts", timeout=30).status_code == 401
    unknown = _cli(replicas, "disable", "client-nobody")
    assert unknown.returncode == 2
    assert "no client has the id 'client-nobody'" in unknown.stderr
    down = _cli(replicas, "list", env={"EVENTLEDGER_PG_PORT": "1"})
    assert down.returncode == 1
    assert "PostgreSQL cannot be reached" in down.stderr
    assert "Traceback" not in down.stderr + unknown.stderr


def test_a_gateway_that_cannot_read_the_revocation_list_refuses_issued_tokens(replicas: Replicas) -> None:
    registered = replicas.register("reader")
    token = replicas.session(registered).token["access_token"]
    blind = replicas.settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    with serve(create_app(blind, postgres_dsn=replicas.schema_dsn)) as url:
        refused = httpx.get(f"{url}/v1/accounts", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert refused.status_code == 503
        assert refused.json()["type"].endswith("/revocation-list-unavailable")
        assert "retry-after" in refused.headers


def _jwks(replicas: Replicas, replica: int) -> Any:
    return httpx.get(f"{replicas.urls[replica]}/.well-known/jwks.json", timeout=30).json()


def _with_token(token: str, url: str) -> int:
    answer = httpx.post(
        f"{url}/v1/accounts",
        json={"holder_name": "Oauth Client", "currency": "EUR"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    return answer.status_code


def _cli(replicas: Replicas, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PGOPTIONS": unquote(replicas.search_path),
        "EVENTLEDGER_NAMESPACE": replicas.namespace,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "eventledger_gateway", "clients", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("client_id", ["client-nul%00", "client-%ED%A0%80", "client-" + "f" * 20, "x" * 300])
def test_a_client_id_the_database_could_not_hold_is_no_client_not_an_error(replicas: Replicas, client_id: str) -> None:
    read = httpx.get(f"{replicas.urls[0]}/v1/admin/clients/{client_id}", headers=replicas.admin(), timeout=30)
    assert read.status_code == 404, read.text
    token = httpx.post(
        f"{replicas.urls[0]}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(f"{client_id}:secret".encode()).decode()},
        timeout=30,
    )
    assert token.status_code in {400, 401}, token.text
