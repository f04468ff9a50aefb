"""The projection runtime's decoding module opens personal fields (ADR 0035) for records and envelopes alike
(ADR 0037): a projection never sees a sealed value it could store, an erased holder reads ``[erased]``, the erasure
event evicts its key, and a value that does not open makes the message undecodable (parked), never applied."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from tests.support import ledger

import eventledger_events as ev
from eventledger_events.personal import ERASED, seal, seal_for, subject_of
from eventledger_projections.runtime.decoding import decode_message
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, RecordEvent
from eventledger_runtime.personal import InMemoryDataKeyStore, KeyEncryptionKeys, PersonalDataOpener
from eventledger_runtime.personal.opener import unopened

pytestmark = pytest.mark.unit


def _message(payload: ev.DomainEvent, stream_id: str, position: int) -> LogMessage:
    record = ev.to_kafka_record(ledger.recorded(payload, stream_id, 1, position, at=datetime.now(UTC)))
    return LogMessage(record.topic, 0, position, record.key, record.value, tuple(record.headers))


def _holder(decoded: object) -> str:
    if isinstance(decoded, RecordEvent):
        return str(decoded.event.record["holder_name"])
    assert isinstance(decoded, ConsumedEvent)
    assert isinstance(decoded.envelope.payload, ev.AccountOpened)
    return decoded.envelope.payload.holder_name


@pytest.mark.parametrize("records", [True, False], ids=["record", "envelope"])
def test_a_sealed_holder_name_is_opened_then_reads_erased_once_the_erasure_passed(records: bool) -> None:
    store = InMemoryDataKeyStore(KeyEncryptionKeys(os.urandom(32)))
    opener = PersonalDataOpener(store)
    account = uuid.uuid4()
    key = store.key_for(subject_of(account))
    opened = _message(
        ev.AccountOpened(account_id=account, holder_name=seal("Ada Lovelace", key, "holder_name"), currency="EUR"),
        ev.account_stream_id(account),
        1,
    )
    first = decode_message(opened, records=records, opener=opener)
    assert isinstance(first, RecordEvent if records else ConsumedEvent)
    assert _holder(first) == "Ada Lovelace"
    assert _holder(decode_message(opened, records=records)) != "Ada Lovelace", "no opener: the value stays sealed"

    erasure = store.erase(subject_of(account), erased_by="admin", reason="asked")
    erased = ev.AccountPersonalDataErased(
        account_id=account, key_id=erasure.key_id, erased_by="admin", reason="asked", erased_at=erasure.erased_at
    )
    passed = decode_message(_message(erased, ev.account_stream_id(account), 2), records=records, opener=opener)
    assert not isinstance(passed, str)
    assert _holder(decode_message(opened, records=records, opener=opener)) == ERASED


@pytest.mark.parametrize("records", [True, False], ids=["record", "envelope"])
def test_a_description_opens_only_with_both_parties_keys_present(records: bool) -> None:
    store = InMemoryDataKeyStore(KeyEncryptionKeys(os.urandom(32)))
    opener = PersonalDataOpener(store)
    payer, payee = uuid.uuid4(), uuid.uuid4()
    keys = [store.key_for(subject_of(payer)), store.key_for(subject_of(payee))]
    transfer = uuid.uuid4()
    posted = ev.TransferPosted(
        transfer_id=transfer,
        kind=ev.TransferKind.TRANSFER,
        from_account_id=payer,
        to_account_id=payee,
        amount=5,
        currency="EUR",
        description=seal_for("rent for March", keys, "description"),
    )
    message = _message(posted, ev.transfer_stream_id(transfer), 3)

    def description() -> str:
        decoded = decode_message(message, records=records, opener=opener)
        if isinstance(decoded, RecordEvent):
            return str(decoded.event.record["description"])
        assert isinstance(decoded, ConsumedEvent)
        assert isinstance(decoded.envelope.payload, ev.TransferPosted)
        return decoded.envelope.payload.description

    assert description() == "rent for March"
    store.erase(subject_of(payee), erased_by="admin", reason="asked")
    opener.forget(keys[1].key_id)
    assert description() == ERASED


@pytest.mark.parametrize("records", [True, False], ids=["record", "envelope"])
def test_a_value_that_does_not_open_makes_the_message_undecodable(records: bool) -> None:
    store = InMemoryDataKeyStore(KeyEncryptionKeys(os.urandom(32)))
    account = uuid.uuid4()
    stranger = InMemoryDataKeyStore(KeyEncryptionKeys(os.urandom(32))).key_for(subject_of(account))
    message = _message(
        ev.AccountOpened(account_id=account, holder_name=seal("Eve", stranger, "holder_name"), currency="EUR"),
        ev.account_stream_id(account),
        4,
    )
    reason = decode_message(message, records=records, opener=PersonalDataOpener(store))
    assert isinstance(reason, str)
    assert "UnknownDataKey" in reason
    assert decode_message(message, records=records, opener=unopened) is not None
