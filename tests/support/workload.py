"""Client-side workloads for the running system: the way an API client that retries with its Idempotency-Key
behaves, counting what was acknowledged."""

from __future__ import annotations

import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from typing import Any, Self

import httpx

LATEST = {"at": "2100-01-01T00:00:00Z"}
"""Query of an audit replay up to every event recorded so far (a version not reached yet is a 404)."""


class Clients(ABC):
    """Three client threads running ``_run(seed)`` from the ``with`` block's start until its end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(3)]

    @abstractmethod
    def _run(self, seed: int) -> None:
        """What one client does until ``stop`` is set."""

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(180)


class Depositors(Clients):
    """Clients depositing 1..100 into a few accounts, each deposit retried with its key until it is answered."""

    def __init__(self, client: httpx.Client, accounts: list[str], *, pause: float = 0.0) -> None:
        """``pause``: seconds each client waits after an answered deposit (0: as fast as the system answers)."""
        super().__init__()
        self.client = client
        self.accounts = accounts
        self.pause = pause
        self.credited = dict.fromkeys(accounts, 0)

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
                    self.stop.wait(self.pause)
                    break
                assert answer.status_code in (429, 502, 503, 504), answer.text
                time.sleep(0.2)
            else:
                raise AssertionError("a deposit was never answered")


def deposit(client: httpx.Client, account: str, amount: int, *, within: float = 120) -> dict[str, Any]:
    """One deposit, retried with the same Idempotency-Key until it is answered 201; its answer."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + within
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = client.post(
                "/v1/deposits", json={"account_id": account, "amount": amount}, headers={"Idempotency-Key": key}
            )
        except httpx.HTTPError as error:
            last = repr(error)
        else:
            if answer.status_code == 201:
                body: dict[str, Any] = answer.json()
                return body
            assert answer.status_code in (429, 502, 503, 504), answer.text
            last = f"{answer.status_code} {answer.text}"
        time.sleep(0.2)
    raise AssertionError(f"a deposit was never answered within {within:.0f} s (last: {last})")
