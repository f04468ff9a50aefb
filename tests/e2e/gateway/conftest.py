"""End-to-end fixtures: the REAL command service on PostgreSQL (an isolated schema, its verifiable log included), the
query service STAND-IN, and the gateway in front of both, each on a real port; tokens minted with the gateway's
settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.support.eventstore import isolated_schema
from tests.support.gateway import System
from tests.support.http_service import serve
from tests.support.query_service_standin import QueryServiceStandIn
from tests.support.redis_keys import delete_keys
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app as create_command_app
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.notary.notary import TreeHeads
from eventledger_command.notary.service import VerifiableLog
from eventledger_gateway.app import create_app
from eventledger_runtime.settings import CommandSettings, GatewaySettings


@pytest.fixture(scope="module")
def command_service(endpoints: Endpoints) -> Iterator[tuple[str, Container]]:
    with isolated_schema(endpoints.postgres_dsn, prefix="gw") as dsn:
        key = Ed25519PrivateKey.generate()
        verifiable = VerifiableLog(dsn, lambda tree: TreeHeads(tree, key))
        container = build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=8), verifiable_log=verifiable)
        with serve(create_command_app(container)) as url:
            yield url, container


@pytest.fixture(scope="module")
def query_standin() -> Iterator[tuple[str, QueryServiceStandIn]]:
    standin = QueryServiceStandIn()
    with serve(standin.app()) as url:
        yield url, standin


@pytest.fixture(scope="module")
def system(
    endpoints: Endpoints, command_service: tuple[str, Container], query_standin: tuple[str, QueryServiceStandIn]
) -> Iterator[System]:
    prefix = f"test:gateway-e2e:{uuid.uuid4().hex[:12]}:"
    settings = GatewaySettings(
        command_url=command_service[0],
        query_url=query_standin[0],
        redis_url=endpoints.redis_url,
        rate_limit_key_prefix=prefix,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
    )
    with serve(create_app(settings)) as url:
        yield System(url, settings, command_service[1], query_standin[1])
    delete_keys(endpoints.redis_url, prefix)
