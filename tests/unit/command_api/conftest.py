from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.support.clock import Clock
from tests.support.command_api import Api

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_runtime.settings import CommandSettings


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


@pytest.fixture
def container(clock: Clock) -> Container:
    return build(CommandSettings(snapshot_interval=5), store=InMemoryEventStore(), clock=clock)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, background=False), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
