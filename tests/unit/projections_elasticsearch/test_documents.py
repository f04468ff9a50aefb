"""Folding a transfer's events into its document, and the external versions that order documents."""

from __future__ import annotations

from uuid import UUID

import pytest
from tests.support.ledger import LedgerScript

from eventledger_events import EventEnvelope
from eventledger_projections.elasticsearch.documents import (
    HolderNames,
    TransferState,
    UnappliableEvent,
    UnknownTransfer,
    document_version,
    fold,
    from_document,
    to_document,
)

BOTH = HolderNames("Ada Lovelace", "Alan Turing")
NONE = HolderNames(None, None)


def stream(script: LedgerScript, transfer_id: UUID) -> list[EventEnvelope]:
    return [e for e in script.envelopes if e.stream_id == f"transfer-{transfer_id}"]


def folded(events: list[EventEnvelope]) -> TransferState:
    state = None
    for envelope in events:
        state = fold(state, envelope) or state
    assert state is not None
    return state


@pytest.fixture
def script() -> LedgerScript:
    return LedgerScript()


def test_a_posted_transfer_is_created_posted(script: LedgerScript) -> None:
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    transfer = script.transfer(ada, alan, 120, "chess lessons")
    [event] = stream(script, transfer)
    state = folded([event])
    assert (state.status, state.kind, state.amount, state.currency) == ("posted", "transfer", 120, "EUR")
    assert (state.from_account_id, state.to_account_id) == (ada, alan)
    assert state.created_at == state.updated_at == event.occurred_at
    assert (state.stream_version, state.position, state.expires_at) == (1, event.position, None)
    assert state.is_final


@pytest.mark.parametrize(("settle", "status"), [("post", "posted"), ("void", "voided"), ("expire", "expired")])
def test_a_pending_transfer_is_settled_by_its_second_event(script: LedgerScript, settle: str, status: str) -> None:
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    hold = script.hold(ada, alan, 50, "piano")
    getattr(script, settle)(hold)
    created, settled = stream(script, hold)
    pending = folded([created])
    assert (pending.status, pending.is_final) == ("pending", False)
    assert pending.expires_at is not None
    state = folded([created, settled])
    assert (state.status, state.stream_version, state.position) == (status, 2, settled.position)
    assert (state.created_at, state.updated_at) == (created.occurred_at, settled.occurred_at)
    assert (state.amount, state.description, state.expires_at) == (50, "piano", pending.expires_at)


def test_an_event_not_newer_than_the_state_is_skipped(script: LedgerScript) -> None:
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    hold = script.hold(ada, alan, 50, "piano")
    script.void(hold)
    created, voided = stream(script, hold)
    state = folded([created, voided])
    assert fold(state, created) is None
    assert fold(state, voided) is None


def test_a_settlement_without_a_creation_is_unknown(script: LedgerScript) -> None:
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    hold = script.hold(ada, alan, 50, "piano")
    script.post(hold)
    with pytest.raises(UnknownTransfer, match="never seen created"):
        fold(None, stream(script, hold)[1])


def test_an_event_of_another_category_or_without_position_is_unappliable(script: LedgerScript) -> None:
    ada = script.open("Ada Lovelace")
    with pytest.raises(UnappliableEvent, match="not a transfer event"):
        fold(None, script.envelopes[0])
    transfer = script.deposit(ada, 10)
    unrecorded = stream(script, transfer)[0].model_copy(update={"position": None})
    with pytest.raises(UnappliableEvent, match="no global position"):
        fold(None, unrecorded)


def test_versions_order_events_first_then_known_names() -> None:
    versions = [
        document_version(1, NONE),
        document_version(1, HolderNames("Ada", None)),
        document_version(1, HolderNames(None, "Alan")),
        document_version(1, BOTH),
        document_version(2, NONE),
        document_version(2, BOTH),
    ]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)


def test_a_document_carries_its_state_and_names_and_lists_the_unknown_holders(script: LedgerScript) -> None:
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    hold = script.hold(ada, alan, 50, "piano")
    state = folded(stream(script, hold))
    document = to_document(state, HolderNames("Ada Lovelace", None))
    assert document["pending_holders"] == [str(alan)]
    assert document["from_holder_name"] == "Ada Lovelace"
    assert document["to_holder_name"] is None
    assert from_document(document) == (state, HolderNames("Ada Lovelace", None))
    assert to_document(state, BOTH)["pending_holders"] == []
