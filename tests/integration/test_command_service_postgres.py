"""The command service on the real PostgreSQL store, over real HTTP, under concurrency."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest
from prometheus_client import REGISTRY
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import AccountCredited, AccountDebited, AccountHoldPlaced, AccountHoldReleased, AccountOpened
from eventledger_runtime.settings import CommandSettings


@pytest.fixture
def service(endpoints: Endpoints) -> Iterator[tuple[str, Container]]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        container = build(CommandSettings(snapshot_interval=10), store=PostgresEventStore(dsn, pool_size=24))
        with serve(create_app(container)) as url:
            yield url, container


def _open(client: httpx.Client, currency: str = "EUR", overdraft: int = 0) -> str:
    answer = client.post(
        "/v1/accounts", json={"holder_name": "Holder", "currency": currency, "overdraft_limit": overdraft}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["account_id"])


def test_concurrent_transfers_from_one_account_never_overdraw_it(service: tuple[str, Container]) -> None:
    url, container = service
    with httpx.Client(base_url=url, timeout=30) as client:
        source, target = _open(client), _open(client)
        assert client.post("/v1/deposits", json={"account_id": source, "amount": 10_000}).status_code == 201

        def send(_: int) -> int:
            return client.post(
                "/v1/transfers", json={"from_account_id": source, "to_account_id": target, "amount": 1_000}
            ).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(send, range(30)))
    assert statuses.count(201) == 10
    assert statuses.count(409) == 20
    source_state = container.repository.load_account(uuid.UUID(source)).state
    target_state = container.repository.load_account(uuid.UUID(target)).state
    assert source_state is not None
    assert target_state is not None
    assert (source_state.balance, target_state.balance) == (0, 10_000)


def test_one_idempotency_key_sent_concurrently_does_the_work_once(service: tuple[str, Container]) -> None:
    url, container = service
    with httpx.Client(base_url=url, timeout=30) as client:
        account = _open(client)

        def send(_: int) -> tuple[int, bytes]:
            answer = client.post(
                "/v1/deposits", json={"account_id": account, "amount": 250}, headers={"Idempotency-Key": "once"}
            )
            return answer.status_code, answer.content

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, range(16)))
    assert {status for status, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1
    state = container.repository.load_account(uuid.UUID(account)).state
    assert state is not None
    assert state.balance == 250


def test_random_concurrent_workload_conserves_money_per_currency(service: tuple[str, Container]) -> None:
    """After random concurrent commands, replaying the store: per currency all balances (the external account
    included) sum to zero, and no account's available amount was ever negative."""
    url, container = service
    rng = random.Random(7)
    with httpx.Client(base_url=url, timeout=30) as client:
        accounts = {c: [_open(client, c, overdraft=rng.choice([0, 0, 500])) for _ in range(6)] for c in ("EUR", "USD")}
        pending: list[str] = []

        def act(seed: int) -> int:
            r = random.Random(seed)
            currency = r.choice(["EUR", "USD"])
            a, b = r.sample(accounts[currency], 2)
            roll = r.random()
            if roll < 0.3:
                answer = client.post("/v1/deposits", json={"account_id": a, "amount": r.randint(1, 5_000)})
            elif roll < 0.45:
                answer = client.post("/v1/withdrawals", json={"account_id": a, "amount": r.randint(1, 3_000)})
            elif roll < 0.8:
                answer = client.post(
                    "/v1/transfers", json={"from_account_id": a, "to_account_id": b, "amount": r.randint(1, 3_000)}
                )
            elif roll < 0.9 or not pending:
                answer = client.post(
                    "/v1/transfers",
                    json={
                        "from_account_id": a,
                        "to_account_id": b,
                        "amount": r.randint(1, 2_000),
                        "pending": True,
                        "timeout_seconds": 3600,
                    },
                )
                if answer.status_code == 201:
                    pending.append(answer.json()["transfer_id"])
            else:
                action = r.choice(["post", "void"])
                answer = client.post(f"/v1/transfers/{r.choice(pending)}/{action}")
            assert answer.status_code in (200, 201, 409), answer.text
            return answer.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(act, range(400)))
    assert statuses.count(201) + statuses.count(200) > 200

    balances: dict[str, int] = defaultdict(int)
    holds: dict[str, int] = defaultdict(int)
    overdraft: dict[str, int] = {}
    currency_of: dict[str, str] = {}
    external: dict[str, int] = defaultdict(int)
    for recorded in container.store.read_all(limit=1_000_000):
        payload = to_envelope(recorded).payload
        stream = recorded.stream_id
        if isinstance(payload, AccountOpened):
            overdraft[stream], currency_of[stream] = payload.overdraft_limit, payload.currency
        elif isinstance(payload, AccountCredited):
            balances[stream] += payload.amount
            assert balances[stream] == payload.balance_after
        elif isinstance(payload, AccountDebited):
            balances[stream] -= payload.amount
            assert balances[stream] == payload.balance_after
        elif isinstance(payload, AccountHoldPlaced):
            holds[stream] += payload.amount
        elif isinstance(payload, AccountHoldReleased):
            holds[stream] -= payload.amount
        if isinstance(payload, AccountCredited | AccountDebited) and payload.counterparty_account_id not in {
            uuid.UUID(s.removeprefix("account-")) for s in currency_of
        }:
            external[payload.currency] += payload.amount if isinstance(payload, AccountDebited) else -payload.amount
        if stream in overdraft:
            assert balances[stream] + overdraft[stream] - holds[stream] >= 0, f"{stream} went below available 0"
    for currency in ("EUR", "USD"):
        total = sum(b for s, b in balances.items() if currency_of[s] == currency) + external[currency]
        assert total == 0, f"{currency}: money created or destroyed ({total})"


def _conflict_retries() -> float:
    """Retries after a concurrency conflict so far, in this process (the locks should leave none to retry)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "eventledger_command_conflict_retries"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _balance(container: Container, account: str) -> int:
    state = container.repository.load_account(uuid.UUID(account)).state
    assert state is not None
    return state.balance


def test_32_clients_depositing_into_one_account_are_never_refused(service: tuple[str, Container]) -> None:
    """Issue 4: a deposit commutes, so a hot account must take every one (98 of 320 answered 409 before)."""
    url, container = service
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:
        account = _open(client)

        def send(number: int) -> int:
            return client.post("/v1/deposits", json={"account_id": account, "amount": number + 1}).status_code

        retries = _conflict_retries()
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(send, range(320)))
    assert statuses == [201] * 320
    assert _conflict_retries() == retries, "the per-stream lock should leave no conflict to retry"
    assert _balance(container, account) == sum(range(1, 321))


def test_deposits_and_transfers_both_ways_between_two_hot_accounts_conserve_money(
    service: tuple[str, Container],
) -> None:
    """Transfers lock both accounts in one order whichever way they go: no 409, no deadlock, no money lost."""
    url, container = service
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:
        a, b = _open(client), _open(client)
        for account in (a, b):
            assert client.post("/v1/deposits", json={"account_id": account, "amount": 100_000}).status_code == 201

        def act(number: int) -> int:
            kind = number % 4
            if kind == 0:
                body = {"account_id": a if number % 8 else b, "amount": 10}
                return client.post("/v1/deposits", json=body).status_code
            source, target = (a, b) if kind in (1, 3) else (b, a)
            body = {"from_account_id": source, "to_account_id": target, "amount": 7}
            return client.post("/v1/transfers", json=body).status_code

        retries = _conflict_retries()
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(act, range(320)))
    assert statuses == [201] * 320
    assert _conflict_retries() == retries, "the per-stream locks should leave no conflict to retry"
    deposits = 80 * 10
    assert _balance(container, a) + _balance(container, b) == 200_000 + deposits
    # 160 transfers a -> b and 80 b -> a of 7 each; the 80 deposits went 40 to each
    assert _balance(container, a) == 100_000 + 40 * 10 - 160 * 7 + 80 * 7


def test_two_replicas_depositing_into_one_account_are_never_refused(endpoints: Endpoints) -> None:
    """Two command services on one event store: the advisory lock serialises them where the in-process lock
    cannot."""
    with isolated_schema(endpoints.postgres_dsn) as dsn, ExitStack() as stack:
        replicas = []
        for _ in range(2):
            container = build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=8))
            stack.callback(container.close)
            replicas.append(stack.enter_context(serve(create_app(container))))
        clients = [stack.enter_context(httpx.Client(base_url=url, timeout=60)) for url in replicas]
        account = _open(clients[0])

        def send(number: int) -> int:
            body = {"account_id": account, "amount": 1}
            return clients[number % 2].post("/v1/deposits", json=body).status_code

        retries = _conflict_retries()
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(send, range(320)))
        assert statuses == [201] * 320
        assert _conflict_retries() == retries, "the advisory lock should leave no cross-replica conflict to retry"
        assert _balance(container, account) == 320


def test_two_replicas_remembering_states_see_each_others_appends(endpoints: Endpoints) -> None:
    """Each replica remembers the states it folded (ADR 0038); a load still reads what the other appended since."""
    with isolated_schema(endpoints.postgres_dsn) as dsn, ExitStack() as stack:
        containers = []
        for _ in range(2):
            container = build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=4))
            stack.callback(container.close)
            containers.append(container)
        urls = [stack.enter_context(serve(create_app(c))) for c in containers]
        clients = [stack.enter_context(httpx.Client(base_url=url, timeout=60)) for url in urls]
        account = _open(clients[0])
        for number in range(6):
            body = {"account_id": account, "amount": 1 + number}
            assert clients[number % 2].post("/v1/deposits", json=body).status_code == 201
        body = {"account_id": account, "amount": 21}
        assert clients[0].post("/v1/withdrawals", json=body).status_code == 201
        assert clients[1].post("/v1/withdrawals", json={"account_id": account, "amount": 1}).status_code == 409
        for container in containers:
            assert _balance(container, account) == 0
