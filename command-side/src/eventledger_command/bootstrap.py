"""The one place that wires the write side: settings in, a ready container out. Nothing connects at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from eventledger_command.application.bus import CommandBus
from eventledger_command.application.expiry import ExpiryWorker
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_runtime.settings import CommandSettings, PostgresSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: CommandSettings
    store: EventStore
    repository: LedgerRepository
    bus: CommandBus
    expiry: ExpiryWorker
    clock: Callable[[], datetime]

    def close(self) -> None:
        self.expiry.stop()
        self.store.close()


def build(
    settings: CommandSettings | None = None,
    *,
    postgres: PostgresSettings | None = None,
    store: EventStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Container:
    """Wire the command side. Tests pass an in-memory ``store`` and a fixed ``clock``."""
    settings = settings or CommandSettings()
    if store is None:
        if settings.store == "memory":
            store = InMemoryEventStore()
        else:
            store = PostgresEventStore((postgres or PostgresSettings()).dsn, pool_size=settings.pool_size)
    repository = LedgerRepository(store, snapshot_interval=settings.snapshot_interval, clock=clock)
    bus = CommandBus(repository, clock, max_attempts=settings.max_attempts)
    return Container(settings, store, repository, bus, ExpiryWorker(store, bus, clock), clock)
