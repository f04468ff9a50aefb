"""Issue 10 item 7: the whole system with two instances of every service behind HAProxy (`make up REPLICAS=2`). One
instance of each kind is SIGKILLed in turn (the relay that leads, not a standby) under a continuous money-moving
workload whose clients go through HAProxy and retry each command with its Idempotency-Key until it is answered.
Afterwards no acknowledged command is lost, none applied twice, money is conserved, and every read model (PostgreSQL,
Redis, Elasticsearch) equals what the event store says."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.processes import wait_for
from tests.support.servers import Endpoints
from tests.support.system import ROLES, RunningSystem, running_system
from tests.support.workload import LATEST, Clients, deposit

from eventledger_infra import loadbalancer, system

REPLICAS = 2
CURRENCY = "SEK"
ACCOUNTS = 5
OPENING = 100_000
# Killed in this order, one instance each: the second instance of a service (its first keeps serving), except the
# relay, where the leader is the one that matters.
VICTIMS = (
    "command-2",
    "relay-leader",
    "projector-postgres-2",
    "projector-redis",
    "projector-elasticsearch-2",
    "stream-windows-2",
    "query",
    "gateway-2",
)


@pytest.fixture
def ledger(endpoints: Endpoints, tmp_path: Path) -> Iterator[RunningSystem]:
    try:
        with running_system(tmp_path / "system", replicas=REPLICAS) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


class Movers(Clients):
    """Clients moving money between accounts (and depositing into them) through HAProxy. Each command is retried
    with its Idempotency-Key until it is answered; a 201 is applied to the expected balances, a refusal (409/422:
    funds, a frozen account) is not."""

    def __init__(self, client: httpx.Client, accounts: list[str]) -> None:
        super().__init__()
        self.client = client
        self.accounts = accounts
        self.expected = dict.fromkeys(accounts, OPENING)
        self.deposited = OPENING * len(accounts)
        self.postings = len(accounts)
        self.volume = OPENING * len(accounts)
        self.retried = 0
        self.errors: list[str] = []

    def _send(self, path: str, body: dict[str, Any]) -> int:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                answer = self.client.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code in (201, 409, 422):
                return answer.status_code
            if answer is not None and answer.status_code not in (429, 502, 503, 504):
                raise AssertionError(f"{path} answered {answer.status_code}: {answer.text}")
            with self.lock:
                self.retried += 1
            time.sleep(0.2)
        raise AssertionError(f"{path} was never answered within 120 s")

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not self.stop.is_set():
                source, target = rng.sample(self.accounts, 2)
                amount = rng.randint(1, 500)
                if rng.random() < 0.3:
                    if self._send("/v1/deposits", {"account_id": target, "amount": amount}) == 201:
                        with self.lock:
                            self.expected[target] += amount
                            self.deposited += amount
                            self.postings += 1
                            self.volume += amount
                    continue
                body = {"from_account_id": source, "to_account_id": target, "amount": amount}
                if self._send("/v1/transfers", body) == 201:
                    with self.lock:
                        self.expected[source] -= amount
                        self.expected[target] += amount
                        self.postings += 1
                        self.volume += amount
        except Exception as exc:  # reported by the test, which would otherwise wait on a dead thread
            self.errors.append(repr(exc))


def _leading_relay(ledger: RunningSystem) -> str:
    for spec in system.recorded_instances(ledger.settings):
        if spec.service == "relay":
            answer = httpx.get(f"http://127.0.0.1:{spec.port}/status", timeout=5).json()
            if answer.get("role") == "leader":
                return spec.name
    raise AssertionError("no relay leads")


def _kill(ledger: RunningSystem, victim: str) -> None:
    name = _leading_relay(ledger) if victim == "relay-leader" else victim
    pid = ledger.service_pid(name)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: ledger.service_pid(name) != pid, 60, f"the supervisor to restart {name}")


def test_every_kind_of_instance_sigkilled_under_load_with_two_replicas(ledger: RunningSystem) -> None:
    instances = system.recorded_instances(ledger.settings)
    assert {s.name for s in instances} >= {"command", "command-2", "relay-2", "gateway-2", "stream-windows-2"}
    states = loadbalancer.server_states("127.0.0.1", system.load_balancer_ops_port())
    assert states["gateway-instances/gateway-2"] == "UP", states

    token = ledger.token(*ROLES, subject="scale-client")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=ledger.gateway_url, headers=headers, timeout=10) as client:
        accounts = []
        for n in range(ACCOUNTS):
            opened = client.post("/v1/accounts", json={"holder_name": f"Scale {n}", "currency": CURRENCY})
            accounts.append(opened.json()["account_id"])
            deposit(client, accounts[-1], OPENING)
        with Movers(client, accounts) as load:
            for victim in VICTIMS:
                time.sleep(2.0)
                _kill(ledger, victim)
            time.sleep(3.0)
        assert not load.errors, load.errors
        last = deposit(client, accounts[0], 1)
        load.expected[accounts[0]] += 1
        load.deposited += 1
        load.postings += 1
        load.volume += 1
        after = {"X-Min-Position": str(last["position"])}

        def balances() -> dict[str, int] | None:
            try:
                answers = [client.get(f"/v1/accounts/{a}", headers=after) for a in accounts]
            except httpx.HTTPError:
                return None
            if any(a.status_code != 200 for a in answers):
                return None
            return {a: answer.json()["balance"] for a, answer in zip(accounts, answers, strict=True)}

        wait_for(lambda: balances() is not None, 120, "the PostgreSQL read model to reach the last deposit")
        assert balances() == load.expected, "an acknowledged command lost, or one applied twice"
        assert sum(load.expected.values()) == load.deposited, "money not conserved"
        for account in accounts:
            replayed = client.get(f"/v1/audit/accounts/{account}/state", params=LATEST).json()
            assert replayed["balance"] == load.expected[account], "the event store disagrees with the acknowledgements"

        def redis_figures() -> tuple[int, int] | None:
            answer = client.get("/v1/stats/overview", headers=after)
            if answer.status_code != 200:
                return None
            body = answer.json()
            return body["transfers_per_currency"].get(CURRENCY, 0), body["volume_per_currency"].get(CURRENCY, 0)

        wait_for(lambda: redis_figures() is not None, 120, "the Redis read model to reach the last deposit")
        assert redis_figures() == (load.postings, load.volume)

        def searched() -> int | None:
            answer = client.get("/v1/search/transfers", params={"currency": CURRENCY, "limit": 1}, headers=after)
            return int(answer.json()["total"]) if answer.status_code == 200 else None

        wait_for(lambda: searched() is not None, 120, "the Elasticsearch read model to reach the last deposit")
        assert searched() == load.postings

        projections = client.get("/v1/admin/projections").json()["items"]
        assert all(p["state"] == "running" for p in projections), projections
    print(f"scale: {load.postings} postings, {load.retried} retried sends, {len(VICTIMS)} instances killed")
