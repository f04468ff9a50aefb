from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_runtime.settings import CommandSettings


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(clock: Clock) -> Container:
    return build(CommandSettings(snapshot_interval=5), store=InMemoryEventStore(), clock=clock)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, background=False), raise_server_exceptions=False) as test_client:
        yield test_client


class Api:
    """Small helpers over the client, so tests read as the API's story."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def open(self, holder: str = "Ada", currency: str = "EUR", overdraft: int = 0) -> str:
        answer = self.client.post(
            "/v1/accounts", json={"holder_name": holder, "currency": currency, "overdraft_limit": overdraft}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["account_id"])

    def deposit(self, account_id: str, amount: int) -> dict[str, object]:
        answer = self.client.post("/v1/deposits", json={"account_id": account_id, "amount": amount})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
