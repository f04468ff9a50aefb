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
from eventledger_runtime.eventlog.notice import NewEventsAnnouncer, PostgresNewEventsAnnouncer
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
    announcer: NewEventsAnnouncer | None = None

    def close(self) -> None:
        self.expiry.stop()
        self.store.close()
        if self.announcer is not None:
            self.announcer.close()


def build(
    settings: CommandSettings | None = None,
    *,
    postgres: PostgresSettings | None = None,
    store: EventStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Container:
    """Wire the command side. Tests pass an in-memory ``store`` and a fixed ``clock``."""
    settings = settings or CommandSettings()
    announcer: NewEventsAnnouncer | None = None
    if store is None:
        if settings.store == "memory":
            store = InMemoryEventStore()
        else:
            dsn = (postgres or PostgresSettings()).dsn
            announcer = PostgresNewEventsAnnouncer(dsn)  # wakes the relay after each append (ADR 0021)
            store = PostgresEventStore(dsn, pool_size=settings.pool_size, announcer=announcer)
    repository = LedgerRepository(store, snapshot_interval=settings.snapshot_interval, clock=clock)
    bus = CommandBus(repository, clock, max_attempts=settings.max_attempts)
    return Container(settings, store, repository, bus, ExpiryWorker(store, bus, clock), clock, announcer)
