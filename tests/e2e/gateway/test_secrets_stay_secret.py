"""No secret leaves the gateway (issue 13 item 5): not in an answer, a header, a log line or /metrics, whatever goes
wrong — a forged or expired token, a guessed client secret, PostgreSQL refusing the password, a registered client's
secret shown once and never again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import jwt
import pytest
from tests.support.http_service import serve
from tests.support.servers import Endpoints

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

JWT_SECRET = "jwt-secret-7c1e9b2a40d35f6e8a9b0c1d2e3f4a5b"
KEK = "kek-secret-2f4e6a8c0b1d3f5e7a9c1b3d5f7e9a1c"
PG_PASSWORD = "pg-secret-9e8d7c6b5a4f3e2d1c0b"


@pytest.fixture
def gateway(endpoints: Endpoints) -> Iterator[httpx.Client]:
    settings = GatewaySettings(
        command_url="http://127.0.0.1:9",
        query_url="http://127.0.0.1:9",
        redis_url=endpoints.redis_url,
        rate_limit_key_prefix=f"test:secrets:{time.time_ns()}:",
        jwt_secret=JWT_SECRET,
        key_encryption_key=KEK,
        signing_key_refresh_seconds=0.2,
    )
    # The right server, a wrong password: every database call fails with PostgreSQL's own refusal.
    user_and_host = endpoints.postgres_dsn.split("://", 1)[1].split("@", 1)
    dsn = f"postgresql://{user_and_host[0].split(':')[0]}:{quote(PG_PASSWORD)}@{user_and_host[1]}"
    with serve(create_app(settings, postgres_dsn=dsn)) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.settings = settings  # type: ignore[attr-defined]
        yield client


def test_no_secret_in_answers_logs_or_metrics_whatever_fails(
    gateway: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    answers = [
        gateway.get("/v1/accounts", headers={"Authorization": f"Bearer {jwt.encode({'sub': 'x'}, 'guess' * 8)}"}),
        gateway.get(
            "/v1/accounts",
            headers={
                "Authorization": "Bearer "
                + jwt.encode({"sub": "x", "roles": ["reader"], "iat": now - 99, "exp": now - 60}, JWT_SECRET)
            },
        ),
        gateway.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("client-" + "0" * 20, "a-guessed-client-secret"),  # well formed: the database is asked
        ),
        gateway.get(
            "/v1/admin/clients",
            headers={
                "Authorization": "Bearer "
                + jwt.encode({"sub": "ops", "roles": ["admin"], "iat": now, "exp": now + 60}, JWT_SECRET)
            },
        ),
        gateway.get("/readyz"),
        gateway.get("/metrics"),
        gateway.get("/openapi.json"),
    ]
    time.sleep(0.5)  # a few key-refresh attempts against the refusing database get logged
    assert [a.status_code for a in answers[:4]] == [401, 401, 503, 503]  # the token endpoint needs the database
    assert answers[3].json()["type"].endswith("/database-unavailable")
    records = caplog.get_records("setup") + caplog.records  # the gateway starts in the fixture
    exposed = "\n".join(
        [a.text + repr(dict(a.headers)) for a in answers] + [r.getMessage() + repr(r.args) for r in records]
    )
    assert any("signing keys cannot be loaded" in r.getMessage() for r in records), "the failure is logged"
    for secret in (JWT_SECRET, KEK, PG_PASSWORD, quote(PG_PASSWORD), "a-guessed-client-secret"):
        assert secret not in exposed
