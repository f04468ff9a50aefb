"""What sealing personal data costs the append path (crypto-shredding, issue 12): transfers with a description
through the command bus on the PostgreSQL store, with the personal fields sealed (each description sealed twice,
once per account, with keys from the PostgreSQL key store) against the same bus without a sealer (plaintext
descriptions), alternated in one run. The hash chain's cost is ``bench.bench_event_store``'s (both contenders pay it).

Run with the servers up: ``.venv/bin/python -m bench.bench_personal``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime

from bench._common import compare, scratch_database
from eventledger_command.application.bus import CommandBus
from eventledger_command.application.commands import Deposit, MakeTransfer, OpenAccount
from eventledger_command.application.personal import PersonalDataSealer
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import EventMetadata
from eventledger_infra.settings import Settings
from eventledger_runtime.personal import PostgresDataKeyStore
from eventledger_runtime.settings import PersonalDataSettings

SECONDS = 3.0
ROUNDS = 5
SEALED_1, PLAIN_1 = "transfer, sealed, 1 client", "transfer, plaintext, 1 client"
SEALED_4, PLAIN_4 = "transfer, sealed, 4 clients", "transfer, plaintext, 4 clients"
DESCRIPTION = "rent for the flat in Baker Street, December"


def _now() -> datetime:
    return datetime.now(UTC)


def _metadata() -> EventMetadata:
    return EventMetadata(actor="bench", correlation_id=uuid.uuid4())


def _pair(bus: CommandBus) -> tuple[uuid.UUID, uuid.UUID]:
    accounts = (uuid.uuid4(), uuid.uuid4())
    for account, name in zip(accounts, ("Ada Lovelace", "Charles Babbage"), strict=True):
        bus.execute(OpenAccount(account, name, "EUR"), _metadata())
    bus.execute(Deposit(uuid.uuid4(), accounts[0], 10**12, "opening balance"), _metadata())
    return accounts


def rate(bus: CommandBus, clients: int) -> float:
    """Transfers per second, each client between its own two accounts (no conflicts)."""
    pairs = [_pair(bus) for _ in range(clients)]
    counts = [0] * clients
    deadline = time.monotonic() + SECONDS

    def run(index: int) -> None:
        source, target = pairs[index]
        while time.monotonic() < deadline:
            bus.execute(MakeTransfer(uuid.uuid4(), source, target, 1, DESCRIPTION), _metadata())
            counts[index] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def main() -> None:
    base = Settings.from_env()
    with scratch_database(base) as database:
        dsn = dataclasses.replace(base, pg_database=database).postgres_dsn
        store = PostgresEventStore(dsn, pool_size=8)
        keys = PostgresDataKeyStore(dsn, PersonalDataSettings().keks(), pool_size=8)
        sealed = CommandBus(LedgerRepository(store, clock=_now, sealer=PersonalDataSealer(keys)), _now)
        plain = CommandBus(LedgerRepository(store, clock=_now), _now)
        print(f"sealing benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds")
        compare(
            "transfers with a description through the command bus (PostgreSQL store, hash chain on)",
            ROUNDS,
            {
                SEALED_1: lambda: rate(sealed, 1),
                PLAIN_1: lambda: rate(plain, 1),
                SEALED_4: lambda: rate(sealed, 4),
                PLAIN_4: lambda: rate(plain, 4),
            },
            [(SEALED_1, PLAIN_1, None), (SEALED_4, PLAIN_4, None)],
        )
        keys.close()
        store.close()


if __name__ == "__main__":
    main()
