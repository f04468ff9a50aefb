"""The read model's fold: rows from events, balances from the events, holds accumulated once per stream version,
and the version guard that makes redelivery and replay harmless."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tests.support import ledger
from tests.support.ledger import TransferFacts

import eventledger_events as ev
from eventledger_events.personal import ERASED
from eventledger_projections.postgres.fold import ReadModelFold, UnappliableEvent, rows_to_load

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_positions = itertools.count(1)


def recorded(stream_id: str, version: int, payload: ev.DomainEvent) -> ev.EventEnvelope:
    """The next position, recorded a second after the one before."""
    position = next(_positions)
    return ledger.recorded(payload, stream_id, version, position, at=T0 + timedelta(seconds=position))


ACCOUNT = uuid.uuid4()
OTHER = uuid.uuid4()
TRANSFER = uuid.uuid4()
STREAM = ev.account_stream_id(ACCOUNT)


def _opened(overdraft: int = 0) -> ev.EventEnvelope:
    payload = ev.AccountOpened(account_id=ACCOUNT, holder_name="Ada", currency="EUR", overdraft_limit=overdraft)
    return recorded(STREAM, 1, payload)


def _credit(version: int, amount: int, balance_after: int) -> ev.EventEnvelope:
    payload = TransferFacts(TRANSFER, OTHER, ACCOUNT, amount, description="pay").credited(balance_after)
    return recorded(STREAM, version, payload)


def _fold(*events: ev.EventEnvelope) -> ReadModelFold:
    fold = ReadModelFold({}, {})
    for event in events:
        fold.apply(event)
    return fold


def test_an_opened_account_starts_at_zero_with_its_overdraft_available() -> None:
    opened = _opened(overdraft=500)
    row = _fold(opened).accounts[ACCOUNT]
    assert (row.status, row.balance, row.held, row.available, row.version) == ("open", 0, 0, 500, 1)
    assert row.opened_at == row.updated_at == opened.occurred_at
    assert row.position == opened.position


def test_movements_take_the_balance_from_the_event_and_record_signed_entries() -> None:
    debit = TransferFacts(TRANSFER, ACCOUNT, OTHER, 30).debited(balance_after=70)
    fold = _fold(_opened(), _credit(2, 100, 100), recorded(STREAM, 3, debit))
    assert fold.accounts[ACCOUNT].balance == 70
    assert [(e.amount, e.balance_after, e.description) for e in fold.entries] == [(100, 100, "pay"), (-30, 70, "")]


def test_holds_reduce_available_until_released() -> None:
    expires = T0 + timedelta(hours=1)
    hold = TransferFacts(TRANSFER, ACCOUNT, OTHER, 40)
    placed, released = hold.hold_placed(expires), hold.hold_released(ev.HoldReleaseReason.VOIDED)
    fold = _fold(_opened(), _credit(2, 100, 100), recorded(STREAM, 3, placed))
    assert (fold.accounts[ACCOUNT].held, fold.accounts[ACCOUNT].available) == (40, 60)
    fold.apply(recorded(STREAM, 4, released))
    assert (fold.accounts[ACCOUNT].held, fold.accounts[ACCOUNT].available) == (0, 100)


def test_statuses_follow_freeze_unfreeze_and_close() -> None:
    fold = _fold(_opened(), recorded(STREAM, 2, ev.AccountFrozen(account_id=ACCOUNT)))
    assert fold.accounts[ACCOUNT].status == "frozen"
    fold.apply(recorded(STREAM, 3, ev.AccountUnfrozen(account_id=ACCOUNT)))
    assert fold.accounts[ACCOUNT].status == "open"
    fold.apply(recorded(STREAM, 4, ev.AccountClosed(account_id=ACCOUNT)))
    assert fold.accounts[ACCOUNT].status == "closed"


def test_an_erasure_masks_the_holder_name_and_is_noted_for_the_writer() -> None:
    fold = _fold(_opened(), _credit(2, 100, 100))
    before = replace(fold.accounts[ACCOUNT])
    erased = ev.AccountPersonalDataErased(
        account_id=ACCOUNT,
        key_id="0123456789abcdef0123456789abcdef",
        erased_by="admin",
        reason="asked to be forgotten",
        erased_at=T0,
    )
    assert fold.apply(recorded(STREAM, 3, erased)) is True
    assert fold.accounts[ACCOUNT].version == 3
    assert fold.accounts[ACCOUNT].balance == before.balance
    assert fold.accounts[ACCOUNT].holder_name == ERASED
    assert fold.erased == [ACCOUNT], "the writer masks the account's lines and transfers"


def test_an_event_already_reflected_is_skipped_without_effect() -> None:
    opened, first, second = _opened(), _credit(2, 10, 10), _credit(3, 5, 15)
    fold = _fold(opened, first, second)
    assert fold.apply(first) is False
    assert fold.apply(opened) is False
    assert fold.apply(second) is False
    assert fold.accounts[ACCOUNT].balance == 15
    assert len(fold.entries) == 2


def test_a_movement_on_an_account_never_opened_cannot_be_applied() -> None:
    with pytest.raises(UnappliableEvent, match="never seen opened"):
        _fold(_credit(2, 10, 10))


def test_a_pending_transfer_is_created_then_posted_voided_or_expired() -> None:
    stream = ev.transfer_stream_id(TRANSFER)
    expires = T0 + timedelta(minutes=5)
    facts = TransferFacts(TRANSFER, ACCOUNT, OTHER, 40, description="rent")
    created = facts.pending(expires)
    for ending, status in (
        (facts.pending_posted(), "posted"),
        (facts.voided(), "voided"),
        (facts.expired(), "expired"),
    ):
        first = recorded(stream, 1, created)
        fold = _fold(first)
        row = fold.transfers[TRANSFER]
        assert (row.status, row.expires_at, row.description, row.created_at) == (
            "pending",
            expires,
            "rent",
            first.occurred_at,
        )
        last = recorded(stream, 2, ending)
        fold.apply(last)
        assert (row.status, row.version, row.position, row.updated_at) == (status, 2, last.position, last.occurred_at)


def test_a_one_phase_transfer_is_posted_at_once_and_an_unknown_transfer_cannot_change() -> None:
    stream = ev.transfer_stream_id(TRANSFER)
    posted = TransferFacts(TRANSFER, OTHER, ACCOUNT, 5).posted(ev.TransferKind.DEPOSIT)
    row = _fold(recorded(stream, 1, posted)).transfers[TRANSFER]
    assert (row.kind, row.status, row.expires_at) == ("deposit", "posted", None)
    with pytest.raises(UnappliableEvent, match="never seen created"):
        _fold(recorded(ev.transfer_stream_id(uuid.uuid4()), 2, ev.TransferVoided(transfer_id=TRANSFER)))


def test_the_rows_to_load_are_those_touched_but_not_created_by_the_batch() -> None:
    stream = ev.transfer_stream_id(TRANSFER)
    voided = recorded(stream, 2, ev.TransferVoided(transfer_id=TRANSFER))
    assert rows_to_load([_opened(), _credit(2, 1, 1), voided]) == (set(), {TRANSFER})
    assert rows_to_load([_credit(3, 1, 2)]) == ({ACCOUNT}, set())


def test_a_batch_that_creates_a_row_folds_it_from_scratch_and_a_stored_later_version_wins() -> None:
    """Redelivery of a stream from its first event: the fold rebuilds it; the writer's guard keeps the stored row
    when that one is further along (checked against PostgreSQL in the integration tests)."""
    fold = _fold(_opened(), _credit(2, 10, 10))
    assert fold.accounts[ACCOUNT].version == 2
    assert [entry.position for entry in fold.entries] == [fold.accounts[ACCOUNT].position]
