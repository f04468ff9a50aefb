"""The readers' opener: keys cached, fetched a page at a time, and never served again once the erasure event of
their subject has passed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from tests.support import ledger

import eventledger_events as ev
from eventledger_events.personal import ERASED, DataKey, seal, subject_of
from eventledger_runtime.personal import InMemoryDataKeyStore, KeyEncryptionKeys, PersonalDataOpener

pytestmark = pytest.mark.unit


class CountingStore(InMemoryDataKeyStore):
    def __init__(self) -> None:
        super().__init__(KeyEncryptionKeys(os.urandom(32)))
        self.queries: list[list[str]] = []

    def keys(self, key_ids: Iterable[str]) -> dict[str, DataKey | None]:
        wanted = list(key_ids)
        self.queries.append(wanted)
        return super().keys(wanted)


def _opened(account: uuid.UUID, name: str, key: DataKey, version: int = 1) -> ev.EventEnvelope:
    payload = ev.AccountOpened(
        account_id=account, holder_name=seal(name, key, "holder_name"), currency="EUR", overdraft_limit=0
    )
    return ledger.recorded(payload, ev.account_stream_id(account), version, version, at=datetime.now(UTC))


def _name(envelope: ev.EventEnvelope) -> str:
    assert isinstance(envelope.payload, ev.AccountOpened)
    return envelope.payload.holder_name


def test_keys_are_cached_fetched_by_page_and_evicted_by_the_erasure_event() -> None:
    store = CountingStore()
    opener = PersonalDataOpener(store)
    accounts = [uuid.uuid4() for _ in range(3)]
    keys = [store.key_for(subject_of(account)) for account in accounts]
    page = [_opened(account, f"holder {n}", key) for n, (account, key) in enumerate(zip(accounts, keys, strict=True))]
    opened = opener.open_all(page)
    assert [_name(e) for e in opened] == ["holder 0", "holder 1", "holder 2"]
    assert len(store.queries) == 1  # one query for the page
    assert _name(opener(page[0])) == "holder 0"
    assert len(store.queries) == 1  # then from the cache

    erasure = store.erase(subject_of(accounts[0]), erased_by="admin", reason="asked")
    # Before the reader sees the erasure event it may still open from its cache ...
    assert _name(opener(page[0])) == "holder 0"
    erased = ev.AccountPersonalDataErased(
        account_id=accounts[0], key_id=erasure.key_id, erased_by="admin", reason="asked", erased_at=erasure.erased_at
    )
    assert opener(ledger.recorded(erased, ev.account_stream_id(accounts[0]), 2, 9, at=datetime.now(UTC))).payload
    # ... never after: the event evicted the key.
    assert _name(opener(page[0])) == ERASED
    assert _name(opener(page[1])) == "holder 1"
    # A lookup that began before the erasure and ends after the event never puts the key back.
    opener._remember(erasure.key_id, keys[0])
    assert _name(opener(page[0])) == ERASED
    # A new reader finds the key destroyed in the store.
    assert _name(PersonalDataOpener(store)(page[0])) == ERASED


def test_the_stored_json_is_opened_as_the_envelope_is() -> None:
    store = CountingStore()
    opener = PersonalDataOpener(store)
    account = uuid.uuid4()
    key = store.key_for(subject_of(account))
    data = {"account_id": str(account), "holder_name": seal("Ada", key, "holder_name"), "currency": "EUR"}
    assert opener.open_data("account.opened", 2, data)["holder_name"] == "Ada"
    assert opener.open_data("account.frozen", 1, {"account_id": str(account)}) == {"account_id": str(account)}


def test_a_store_is_made_only_when_a_sealed_value_needs_a_key() -> None:
    made: list[CountingStore] = []

    def make() -> CountingStore:
        made.append(CountingStore())
        return made[-1]

    opener = PersonalDataOpener(make)
    plain = ledger.recorded(
        ev.AccountFrozen(account_id=uuid.uuid4()), ev.account_stream_id(uuid.uuid4()), 1, 1, at=datetime.now(UTC)
    )
    assert opener(plain) is plain
    assert made == []
