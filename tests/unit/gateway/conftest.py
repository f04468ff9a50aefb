"""Gateway unit fixtures: the real app in process, rate limiting off, upstreams at an address nobody listens on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

# Port 9 (discard) on loopback: nothing listens there, so a request that passes auth is answered 503.
NOBODY = "http://127.0.0.1:9"


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(
        command_url=NOBODY, query_url=NOBODY, rate_limit_enabled=False, upstream_connect_timeout_seconds=1
    )


@pytest.fixture
def client(settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
