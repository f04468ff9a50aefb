"""API4:2023 Unrestricted resource consumption at the token endpoint, on the real Redis: token requests are metered
per client id before any secret is checked (ADR 0024), so one client id gets ``token_request_burst`` requests at
once, then 429 with Retry-After, while another client id is served; guessing a client's secret is metered the same
way. The bucket refills slowly here (one token every 20 s), so that the time the requests take (a secret check
costs tens of milliseconds of CPU on purpose) cannot refill it between the burst and the next request; the burst is
the production one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.gateway import bearer, gateway_settings
from tests.support.http_service import serve
from tests.support.servers import Endpoints

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

BURST = GatewaySettings().token_request_burst
SLOW_REFILL = 0.05  # token requests per second per client id: one every 20 s


@pytest.fixture
def token_gateway(upstream_url: str, endpoints: Endpoints, key_prefix: str) -> Iterator[tuple[str, GatewaySettings]]:
    settings = gateway_settings(
        upstream_url, endpoints.redis_url, key_prefix, token_request_burst=BURST, token_requests_per_second=SLOW_REFILL
    )
    with serve(create_app(settings)) as url:
        yield url, settings


def _register(client: httpx.Client, settings: GatewaySettings, name: str) -> dict[str, Any]:
    answer = client.post(
        "/v1/admin/clients", json={"name": name, "roles": ["reader"]}, headers=bearer(settings, "admin", subject="ops")
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _token(client: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )


def test_the_burst_is_ten_then_two_per_second_by_default() -> None:
    defaults = GatewaySettings()
    assert (defaults.token_request_burst, defaults.token_requests_per_second) == (10, 2.0)


def test_one_client_ids_token_requests_past_the_burst_get_429_and_another_client_id_is_served(
    token_gateway: tuple[str, GatewaySettings],
) -> None:
    url, settings = token_gateway
    with httpx.Client(base_url=url, timeout=30) as client:
        busy = _register(client, settings, "busy")
        calm = _register(client, settings, "calm")
        served = [_token(client, busy["client_id"], busy["client_secret"]) for _ in range(BURST)]
        refused = _token(client, busy["client_id"], busy["client_secret"])
        other = _token(client, calm["client_id"], calm["client_secret"])
    assert [answer.status_code for answer in served] == [200] * BURST
    assert all(answer.json()["access_token"] for answer in served)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= round(1 / SLOW_REFILL)
    assert "access_token" not in refused.json()
    assert other.status_code == 200, other.text
    assert other.json()["access_token"]


def test_guessing_a_clients_secret_is_metered_before_the_secret_is_checked(
    token_gateway: tuple[str, GatewaySettings],
) -> None:
    url, settings = token_gateway
    with httpx.Client(base_url=url, timeout=30) as client:
        target = _register(client, settings, "target")
        guesses = [_token(client, target["client_id"], f"guess-{n}-{'x' * 40}") for n in range(BURST)]
        past_the_burst = _token(client, target["client_id"], "another-guess-" + "y" * 40)
        # The right secret is refused too now: the meter runs before the check, so a guesser learns nothing more.
        right_but_late = _token(client, target["client_id"], target["client_secret"])
        unknown = [_token(client, "client-nobody", "z" * 43) for _ in range(BURST + 1)]
    assert [answer.status_code for answer in guesses] == [401] * BURST
    assert {answer.json()["error"] for answer in guesses} == {"invalid_client"}
    assert (past_the_burst.status_code, right_but_late.status_code) == (429, 429)
    assert [answer.status_code for answer in unknown] == [401] * BURST + [429]
