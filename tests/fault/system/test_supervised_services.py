"""SIGKILL each EventLedger service of the running system under load: the supervisor restarts it, no command is
lost or applied twice (clients retry with their Idempotency-Key), and every read model converges."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.processes import wait_for
from tests.support.servers import Endpoints
from tests.support.system import ROLES, RunningSystem, running_system

KILLED = ("command", "relay", "projector-postgres", "projector-redis", "projector-elasticsearch", "query", "gateway")


@pytest.fixture
def ledger(endpoints: Endpoints, tmp_path: Path) -> Iterator[RunningSystem]:
    try:
        with running_system(tmp_path / "system") as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


class Depositors:
    """Clients depositing 1..100 into a few accounts, each deposit retried with its key until it is answered."""

    def __init__(self, client: httpx.Client, accounts: list[str]) -> None:
        self.client = client
        self.accounts = accounts
        self.credited = dict.fromkeys(accounts, 0)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(3)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            account, amount, key = rng.choice(self.accounts), rng.randint(1, 100), str(uuid.uuid4())
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    answer = self.client.post(
                        "/v1/deposits", json={"account_id": account, "amount": amount}, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if answer.status_code == 201:
                    with self.lock:
                        self.credited[account] += amount
                    break
                assert answer.status_code in (429, 502, 503, 504), answer.text
                time.sleep(0.2)
            else:
                raise AssertionError("a deposit was never answered")

    def __enter__(self) -> Depositors:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(180)


def test_every_service_sigkilled_under_load_recovers_without_loss_or_duplicates(ledger: RunningSystem) -> None:
    token = ledger.token(*ROLES, subject="fault-client")
    with httpx.Client(base_url=ledger.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        accounts = [
            client.post("/v1/accounts", json={"holder_name": f"Kill {n}", "currency": "NOK"}).json()["account_id"]
            for n in range(4)
        ]
        with Depositors(client, accounts) as load:
            for name in KILLED:
                time.sleep(1.5)
                victim = ledger.service_pid(name)
                os.kill(victim, signal.SIGKILL)
                wait_for(
                    lambda name=name, victim=victim: ledger.service_pid(name) != victim,
                    60,
                    f"the supervisor to restart {name}",
                )
            time.sleep(2)
        last = client.post("/v1/deposits", json={"account_id": accounts[0], "amount": 1}).json()
        load.credited[accounts[0]] += 1

        def converged() -> bool:
            try:
                for account in accounts:
                    answer = client.get(f"/v1/accounts/{account}", headers={"X-Min-Position": str(last["position"])})
                    if answer.status_code != 200 or answer.json()["balance"] != load.credited[account]:
                        return False
                return True
            except httpx.HTTPError:
                return False

        wait_for(converged, 120, "every account to show exactly the deposits that were answered 201")
        audit = client.get(f"/v1/audit/accounts/{accounts[0]}/state", params={"version": 100_000}).json()
        assert audit["balance"] == load.credited[accounts[0]]
        statuses = client.get("/v1/admin/projections").json()["items"]
        assert all(s["state"] == "running" for s in statuses), statuses
