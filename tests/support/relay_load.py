"""A continuous append load on an event store, for relay tests and benchmarks that kill relays under it."""

from __future__ import annotations

import random
import threading
import time
import uuid

from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest
from tests.support.ledger import credit, open_account


class Load:
    """Credits to a set of accounts from a background thread, as fast as the store takes them (bounded)."""

    def __init__(self, store: PostgresEventStore, accounts: int = 20, max_seconds: float = 60.0) -> None:
        self.store = store
        self.accounts = [uuid.uuid4() for _ in range(accounts)]
        self.versions = dict.fromkeys(self.accounts, 0)
        self.appended = 0
        self.stop_event = threading.Event()
        self.max_seconds = max_seconds
        self.errors: list[BaseException] = []
        for account_id in self.accounts:
            store.append(AppendRequest((open_account(account_id),)))
            self.versions[account_id] = 1
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                account_id = random.choice(self.accounts)
                version = self.versions[account_id]
                try:
                    self.store.append(AppendRequest((credit(account_id, version),)))
                except ConcurrencyConflict:
                    continue
                self.versions[account_id] = version + 1
                self.appended += 1
                time.sleep(0.002)
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(30)
