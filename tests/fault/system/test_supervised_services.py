"""SIGKILL each EventLedger service of the running system under load: the supervisor restarts it, no command is
lost or applied twice (clients retry with their Idempotency-Key), and every read model converges."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.processes import wait_for
from tests.support.servers import Endpoints
from tests.support.system import ROLES, RunningSystem, running_system
from tests.support.workload import LATEST, Depositors


@pytest.fixture
def ledger(endpoints: Endpoints, tmp_path: Path) -> Iterator[RunningSystem]:
    """The whole system as `make up` runs it, on the shared servers, for one test."""
    try:
        with running_system(tmp_path / "system") as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


KILLED = ("command", "relay", "projector-postgres", "projector-redis", "projector-elasticsearch", "query", "gateway")


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
        audit = client.get(f"/v1/audit/accounts/{accounts[0]}/state", params=LATEST).json()
        assert audit["balance"] == load.credited[accounts[0]]
        statuses = client.get("/v1/admin/projections").json()["items"]
        assert all(s["state"] == "running" for s in statuses), statuses
