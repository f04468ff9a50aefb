"""The one place that wires the write side: settings in, a ready container out. Nothing connects at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eventledger_command.application.bus import CommandBus
from eventledger_command.application.expiry import ExpiryWorker
from eventledger_command.application.personal import PersonalDataSealer
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.application.states import DEFAULT_CAPACITY
from eventledger_command.domain import ValueDatePolicy
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.notary.notary import TreeHeads, load_signing_key
from eventledger_command.notary.service import VerifiableLog
from eventledger_runtime.eventlog.notice import NewEventsAnnouncer, PostgresNewEventsAnnouncer
from eventledger_runtime.personal import DataKeyStore, InMemoryDataKeyStore, PostgresDataKeyStore
from eventledger_runtime.personal.opener import PersonalDataOpener
from eventledger_runtime.settings import AuditSettings, CommandSettings, PersonalDataSettings, PostgresSettings


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
    keys: DataKeyStore
    sealer: PersonalDataSealer
    opener: PersonalDataOpener
    personal: PersonalDataSettings
    announcer: NewEventsAnnouncer | None = None
    verifiable_log: VerifiableLog | None = None

    def close(self) -> None:
        self.expiry.stop()
        self.store.close()
        self.keys.close()
        if self.verifiable_log is not None:
            self.verifiable_log.close()
        if self.announcer is not None:
            self.announcer.close()


def build(
    settings: CommandSettings | None = None,
    *,
    postgres: PostgresSettings | None = None,
    store: EventStore | None = None,
    clock: Callable[[], datetime] = utc_now,
    audit: AuditSettings | None = None,
    verifiable_log: VerifiableLog | None = None,
    recording_clock: Callable[[], datetime] | None = None,
    keys: DataKeyStore | None = None,
    personal: PersonalDataSettings | None = None,
) -> Container:
    """Wire the command side. Tests pass an in-memory ``store`` and a fixed ``clock``; a ``recording_clock`` (tests
    of the bitemporal audit, ADR 0034) gives the built store's recording times instead of the database's. The
    verifiable log's audit API (ADR 0025) runs on the PostgreSQL store: with ``audit`` settings when the store is
    built here, or a ``verifiable_log`` a test made. Personal fields are sealed with the data keys of ``keys``: by
    default the PostgreSQL key store in a PostgreSQL event store's database, an in-memory one beside any other store."""
    settings = settings or CommandSettings()
    personal = personal or PersonalDataSettings()
    announcer: NewEventsAnnouncer | None = None
    if keys is None and isinstance(store, PostgresEventStore):
        keys = PostgresDataKeyStore(None, personal.keks(), pool=store.pool)
    elif keys is None and (store is not None or settings.store == "memory"):
        keys = InMemoryDataKeyStore(personal.keks())
    if store is None:
        if settings.store == "memory":
            store = InMemoryEventStore(recording_clock=recording_clock)
        else:
            dsn = (postgres or PostgresSettings()).dsn
            announcer = PostgresNewEventsAnnouncer(dsn)  # wakes the relay after each append (ADR 0021)
            store = PostgresEventStore(
                dsn, pool_size=settings.pool_size, announcer=announcer, recording_clock=recording_clock
            )
            if keys is None:
                keys = PostgresDataKeyStore(None, personal.keks(), pool=store.pool)
            if audit is not None and verifiable_log is None:
                key = load_signing_key(audit.tree_head_key.get_secret_value())
                verifiable_log = VerifiableLog(dsn, lambda tree: TreeHeads(tree, key))
    assert keys is not None
    sealer = PersonalDataSealer(keys)
    repository = LedgerRepository(
        store,
        snapshot_interval=settings.snapshot_interval,
        clock=clock,
        sealer=sealer,
        remembered_states=DEFAULT_CAPACITY,  # ADR 0038
    )
    value_dates = ValueDatePolicy(window=timedelta(days=settings.backdate_window_days))
    bus = CommandBus(repository, clock, max_attempts=settings.max_attempts, value_dates=value_dates)
    expiry = ExpiryWorker(store, bus, clock)
    opener = PersonalDataOpener(keys, cache_size=personal.key_cache_size)
    return Container(
        settings, store, repository, bus, expiry, clock, keys, sealer, opener, personal, announcer, verifiable_log
    )
