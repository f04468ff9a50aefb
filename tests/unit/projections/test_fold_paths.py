"""The PostgreSQL fold gives the same rows whichever way an event reaches it (ADR 0039): a validated envelope, the
Avro record the live projector reads for the current schema version, or the stored JSON a rebuild reads. Personal
fields are sealed in the events and opened on every path by the same opener (ADR 0035), so an erased holder reads
``[erased]`` alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support import ledger

import eventledger_events as ev
from eventledger_events.personal import ERASED, seal_event, subject_of
from eventledger_projections.postgres.fold import Fact, ReadModelFold, fact_of_envelope, fact_of_record, fact_of_row
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow
from eventledger_projections.runtime.decoding import decode_message
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, RecordEvent
from eventledger_runtime.eventlog import LoggedEvent
from eventledger_runtime.personal import InMemoryDataKeyStore, KeyEncryptionKeys, PersonalDataOpener
from eventledger_runtime.personal.opener import Opener


def _every_type(seed: int) -> list[ev.EventEnvelope]:
    """A random ledger (credits, debits, transfers, holds posted, voided, expired), then an account frozen,
    unfrozen, closed and one erased: every event type the read model folds."""
    script = ledger.random_script(seed, commands=60)
    first, second = (script.envelopes[0].payload, script.envelopes[1].payload)
    assert isinstance(first, ev.AccountOpened)
    assert isinstance(second, ev.AccountOpened)
    for payload in (
        ev.AccountFrozen(account_id=first.account_id),
        ev.AccountUnfrozen(account_id=first.account_id),
        ev.AccountClosed(account_id=first.account_id),
    ):
        script._account(first.account_id, payload)
    return script.envelopes


def _sealed(envelopes: list[ev.EventEnvelope], store: InMemoryDataKeyStore) -> list[ev.EventEnvelope]:
    """The envelopes with their personal fields sealed as the command side seals them."""
    return [e.model_copy(update={"payload": seal_event(e.payload, store.key_for)}) for e in envelopes]


def _erasure(envelopes: list[ev.EventEnvelope], store: InMemoryDataKeyStore) -> ev.EventEnvelope:
    """An erasure of the second account's holder, recorded after the last event."""
    opened = envelopes[1].payload
    assert isinstance(opened, ev.AccountOpened)
    versions = [e.stream_version for e in envelopes if getattr(e.payload, "account_id", None) == opened.account_id]
    erasure = store.erase(subject_of(opened.account_id), erased_by="admin", reason="asked")
    payload = ev.AccountPersonalDataErased(
        account_id=opened.account_id,
        key_id=erasure.key_id,
        erased_by="admin",
        reason="asked",
        erased_at=erasure.erased_at,
    )
    last = envelopes[-1]
    assert last.position is not None
    stream = ev.account_stream_id(opened.account_id)
    at = last.occurred_at + timedelta(minutes=1)
    return ledger.recorded(payload, stream, max(versions) + 1, last.position + 1, at=at)


Rows = tuple[
    list[tuple[uuid.UUID, AccountRow]],
    list[tuple[uuid.UUID, TransferRow]],
    list[EntryRow],
    list[uuid.UUID],
    list[tuple[uuid.UUID, AccountRow]],
    list[EntryRow],
]


def _via_envelope(envelope: ev.EventEnvelope, opener: Opener) -> Fact:
    message = _message(envelope)
    decoded = decode_message(message, records=False, opener=opener)
    assert isinstance(decoded, ConsumedEvent), decoded
    return fact_of_envelope(decoded.envelope)


def _via_record(envelope: ev.EventEnvelope, opener: Opener) -> Fact:
    decoded = decode_message(_message(envelope), records=True, opener=opener)
    assert isinstance(decoded, RecordEvent), decoded
    return fact_of_record(decoded.event)


def _via_row(envelope: ev.EventEnvelope, opener: Opener) -> Fact:
    assert envelope.position is not None
    assert envelope.recorded_at is not None
    stored = LoggedEvent(
        position=envelope.position,
        stream_id=envelope.stream_id,
        stream_version=envelope.stream_version,
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        schema_version=envelope.schema_version,
        occurred_at=envelope.occurred_at,
        recorded_at=envelope.recorded_at,
        actor=envelope.actor,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        payload=ev.payload_to_json(envelope.payload).decode(),
    )
    return fact_of_row(stored, opener)


def _message(envelope: ev.EventEnvelope) -> LogMessage:
    record = ev.to_kafka_record(envelope)
    assert envelope.position is not None
    return LogMessage(record.topic, 0, envelope.position, record.key, record.value, tuple(record.headers))


def _rows(
    envelopes: list[ev.EventEnvelope],
    erasure: ev.EventEnvelope,
    store: InMemoryDataKeyStore,
    path: Callable[[ev.EventEnvelope, Opener], Fact],
) -> Rows:
    """Every row the fold makes of ``envelopes`` (opened before the erasure), then of the same read again after it,
    reached by ``path``."""
    opener = PersonalDataOpener(store)
    fold = ReadModelFold({}, {})
    for envelope in envelopes:
        fold.apply(path(envelope, opener))
    fold.apply(path(erasure, opener))
    again = ReadModelFold({}, {})
    for envelope in envelopes:
        again.apply(path(envelope, opener))
    return (
        sorted(fold.accounts.items()),
        sorted(fold.transfers.items()),
        fold.entries,
        fold.erased,
        sorted(again.accounts.items()),
        again.entries,
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_records_rows_and_envelopes_fold_into_the_same_rows(seed: int) -> None:
    store = InMemoryDataKeyStore(KeyEncryptionKeys(os.urandom(32)))
    envelopes = _sealed(_every_type(seed), store)
    erasure = _erasure(envelopes, store)
    assert {e.event_type for e in [*envelopes, erasure]} >= {
        ev.AccountOpened.EVENT_TYPE,
        ev.AccountCredited.EVENT_TYPE,
        ev.AccountDebited.EVENT_TYPE,
        ev.AccountFrozen.EVENT_TYPE,
        ev.AccountUnfrozen.EVENT_TYPE,
        ev.AccountClosed.EVENT_TYPE,
        ev.AccountPersonalDataErased.EVENT_TYPE,
        ev.TransferPosted.EVENT_TYPE,
    }
    expected = _rows(envelopes, erasure, store, _via_envelope)
    assert _rows(envelopes, erasure, store, _via_record) == expected
    assert _rows(envelopes, erasure, store, _via_row) == expected
    accounts_after_erasure = dict(expected[0])
    opened = envelopes[1].payload
    assert isinstance(opened, ev.AccountOpened)
    assert accounts_after_erasure[opened.account_id].holder_name == ERASED
    reread = dict(expected[4])
    assert reread[opened.account_id].holder_name == ERASED, "the key is gone: a replay reads [erased] too"
    first = envelopes[0].payload
    assert isinstance(first, ev.AccountOpened)
    assert reread[first.account_id].holder_name == "Ada Lovelace"


def test_every_pending_ending_and_hold_event_is_in_the_mix() -> None:
    types = {e.event_type for seed in range(5) for e in _every_type(seed)}
    assert {
        ev.TransferPendingCreated.EVENT_TYPE,
        ev.TransferPendingPosted.EVENT_TYPE,
        ev.TransferVoided.EVENT_TYPE,
        ev.TransferExpired.EVENT_TYPE,
        ev.AccountHoldPlaced.EVENT_TYPE,
        ev.AccountHoldReleased.EVENT_TYPE,
    } <= types
