"""The write side's sealer: a transfer's three events cost one key-store query per account, an erasure made here is
never sealed over, and another replica's erasure is seen within the time-to-live."""

from __future__ import annotations

import os
import uuid

import pytest

import eventledger_events as ev
from eventledger_command.application.personal import PersonalDataSealer
from eventledger_command.domain import Decision
from eventledger_events.personal import DataKey, SealError, is_sealed, open_with, subject_of
from eventledger_runtime.personal import InMemoryDataKeyStore, KeyEncryptionKeys, SubjectErased


class CountingStore(InMemoryDataKeyStore):
    def __init__(self) -> None:
        super().__init__(KeyEncryptionKeys(os.urandom(32)))
        self.asked: list[str] = []

    def key_for(self, subject: str) -> DataKey:
        self.asked.append(subject)
        return super().key_for(subject)


def _transfer(source: uuid.UUID, target: uuid.UUID) -> Decision:
    transfer_id = uuid.uuid4()
    common = {"transfer_id": transfer_id, "amount": 5, "currency": "EUR", "description": "rent"}
    return Decision.of(
        {
            ev.transfer_stream_id(transfer_id): [
                ev.TransferPosted(
                    kind=ev.TransferKind.TRANSFER,
                    from_account_id=source,
                    to_account_id=target,
                    **common,
                )
            ],
            ev.account_stream_id(source): [
                ev.AccountDebited(account_id=source, counterparty_account_id=target, balance_after=-5, **common)
            ],
            ev.account_stream_id(target): [
                ev.AccountCredited(account_id=target, counterparty_account_id=source, balance_after=5, **common)
            ],
        },
        new_streams=[ev.transfer_stream_id(transfer_id)],
    )


def test_a_transfer_asks_the_store_once_per_account_and_every_description_is_sealed() -> None:
    store = CountingStore()
    now = [0.0]
    sealer = PersonalDataSealer(store, ttl=30, clock=lambda: now[0])
    source, target = uuid.uuid4(), uuid.uuid4()
    decision = _transfer(source, target)
    sealed = sealer.seal(decision)
    assert sealed.new_streams == decision.new_streams
    assert sealed.stream_ids == decision.stream_ids
    assert sorted(store.asked) == sorted([subject_of(source), subject_of(target)])
    descriptions = [event.description for _, events in sealed for event in events]  # type: ignore[attr-defined]
    assert all(is_sealed(value) for value in descriptions)
    keys = {k.key_id: k for k in (store.key_for(subject_of(source)), store.key_for(subject_of(target)))}
    assert {open_with(value, keys.get, "description") for value in descriptions} == {"rent"}
    now[0] = 31.0
    store.asked.clear()
    sealer.seal(_transfer(source, target))
    assert len(store.asked) == 2  # the time-to-live passed: asked again


def test_an_erasure_made_here_is_never_sealed_over() -> None:
    store = CountingStore()
    sealer = PersonalDataSealer(store)
    source, target = uuid.uuid4(), uuid.uuid4()
    sealer.seal(_transfer(source, target))
    store.erase(subject_of(target), erased_by="admin", reason="asked")
    sealer.forget(subject_of(target))
    with pytest.raises(SubjectErased):
        sealer.seal(_transfer(source, target))


def test_a_value_sealed_with_a_key_destroyed_elsewhere_opens_nowhere() -> None:
    store = CountingStore()
    sealer = PersonalDataSealer(store, ttl=30)
    source, target = uuid.uuid4(), uuid.uuid4()
    sealer.seal(_transfer(source, target))
    erased = store.erase(subject_of(target), erased_by="admin on another replica", reason="asked")
    late = sealer.seal(_transfer(source, target))  # within the time-to-live: sealed with the destroyed key
    value = next(event.description for _, events in late for event in events)  # type: ignore[attr-defined]
    found = store.keys([erased.key_id])
    assert found == {erased.key_id: None}
    assert open_with(value, lambda key_id: store.keys([key_id])[key_id], "description") == "[erased]"
    with pytest.raises(SealError):
        open_with(value, lambda _: DataKey.generate("x"), "description")
