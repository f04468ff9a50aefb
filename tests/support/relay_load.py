"""A continuous append load on an event store, for relay tests and benchmarks that kill relays under it."""

from __future__ import annotations

import random
import uuid

from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest
from tests.support.background import Repeatedly
from tests.support.ledger import credit, open_account


class Load(Repeatedly):
    """Credits to a set of accounts from a background thread, as fast as the store takes them (bounded)."""

    def __init__(self, store: PostgresEventStore, accounts: int = 20, max_seconds: float = 60.0) -> None:
        super().__init__(self._credit_one, pause=0.002, max_seconds=max_seconds, join_timeout=30)
        self.store = store
        self.accounts = [uuid.uuid4() for _ in range(accounts)]
        self.versions = dict.fromkeys(self.accounts, 0)
        self.appended = 0
        for account_id in self.accounts:
            store.append(AppendRequest((open_account(account_id),)))
            self.versions[account_id] = 1

    def _credit_one(self) -> None:
        account_id = random.choice(self.accounts)
        version = self.versions[account_id]
        try:
            self.store.append(AppendRequest((credit(account_id, version),)))
        except ConcurrencyConflict:
            return
        self.versions[account_id] = version + 1
        self.appended += 1
