"""Rate limiting through the gateway over HTTP, on the real Redis: 429 with Retry-After, per subject, and what
happens when Redis is gone (commands fail closed, read-model queries fail open)."""

from __future__ import annotations

import time

import httpx
from tests.support.gateway import bearer, gateway_settings
from tests.support.http_service import serve
from tests.support.processes import free_port
from tests.support.servers import Endpoints

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

ACCOUNT = "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10"


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_burst_then_429_with_retry_after_then_service_again(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    alice = bearer(settings, "reader", subject="alice")
    with httpx.Client(base_url=url, timeout=10) as client:
        limited_before = _metric(client, 'eventledger_gateway_rate_limited_total{route="/v1/accounts/{account_id}"}')
        statuses = [client.get(f"/v1/accounts/{ACCOUNT}", headers=alice).status_code for _ in range(3)]
        refused = client.get(f"/v1/accounts/{ACCOUNT}", headers=alice)
        assert statuses == [200, 200, 200]
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "https://eventledger.dev/problems/too-many-requests"
        assert refused.headers["retry-after"] in {"1", "2"}  # a token every 2 s: the next one within 2 s
        assert refused.headers["x-request-id"]
        limited_after = _metric(client, 'eventledger_gateway_rate_limited_total{route="/v1/accounts/{account_id}"}')
        assert limited_after == limited_before + 1
        time.sleep(int(refused.headers["retry-after"]) + 0.1)
        assert client.get(f"/v1/accounts/{ACCOUNT}", headers=alice).status_code == 200


def test_one_clients_flood_does_not_limit_another(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    alice = bearer(settings, "writer", subject="alice")
    bob = bearer(settings, "writer", subject="bob")
    with httpx.Client(base_url=url, timeout=10) as client:
        flood = [client.post("/v1/deposits", json={}, headers=alice).status_code for _ in range(8)]
        assert flood.count(429) >= 4
        assert client.post("/v1/deposits", json={}, headers=bob).status_code == 200


def test_the_same_subject_shares_one_bucket_across_roles_and_tokens(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    with httpx.Client(base_url=url, timeout=10) as client:
        for role in ("reader", "writer", "auditor"):
            answer = client.request(
                "POST" if role == "writer" else "GET",
                {"reader": "/v1/stats/overview", "writer": "/v1/deposits", "auditor": "/v1/audit/events"}[role],
                headers=bearer(settings, role, subject="carol"),
            )
            assert answer.status_code == 200
        assert client.get("/v1/stats/overview", headers=bearer(settings, "reader", subject="carol")).status_code == 429


def test_without_redis_commands_fail_closed_and_queries_fail_open(upstream_url: str, key_prefix: str) -> None:
    settings = gateway_settings(upstream_url, f"redis://127.0.0.1:{free_port()}/0", key_prefix)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as client:
        command = client.post("/v1/deposits", json={}, headers=bearer(settings, "writer", subject="alice"))
        assert command.status_code == 503
        assert command.json()["type"] == "https://eventledger.dev/problems/rate-limiter-unavailable"
        assert command.headers["retry-after"] == str(settings.upstream_retry_after_seconds)
        audit = client.get("/v1/audit/events", headers=bearer(settings, "auditor", subject="alice"))
        assert audit.status_code == 503
        query = client.get("/v1/stats/overview", headers=bearer(settings, "reader", subject="alice"))
        assert query.status_code == 200
        assert query.json()["path"] == "/v1/stats/overview"
        closed = _metric(client, 'eventledger_gateway_rate_limiter_failures_total{policy="closed"}')
        opened = _metric(client, 'eventledger_gateway_rate_limiter_failures_total{policy="open"}')
        assert closed >= 2
        assert opened >= 1
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"].startswith("unreachable")


def test_readyz_answers_200_when_redis_and_upstreams_answer(
    gateway: tuple[str, GatewaySettings], endpoints: Endpoints
) -> None:
    url, _ = gateway
    with httpx.Client(base_url=url, timeout=10) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"redis": "ok", "command+query+audit+admin": "ok"}
        assert client.get("/healthz").json() == {"status": "ok"}
