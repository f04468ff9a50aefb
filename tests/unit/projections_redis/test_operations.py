"""From events to the apply script's operations (pure), the key layout, and how failures are classified."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from tests.support import ledger
from tests.support.ledger import TransferFacts

import eventledger_events as ev
from eventledger_projections.redis.keys import KeySpace, parse_partition_field, partition_field
from eventledger_projections.redis.operations import FIELDS_PER_OPERATION, UnappliableEvent, flatten, operation
from eventledger_projections.redis.projection import RedisProjection, _progress

ACCOUNT = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
OTHER = uuid.UUID("00000000-0000-0000-0000-0000000000b2")
TRANSFER = uuid.UUID("00000000-0000-0000-0000-0000000000c3")
AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def recorded(payload: ev.DomainEvent, stream_id: str, version: int = 3, position: int = 42) -> ev.EventEnvelope:
    return ledger.recorded(payload, stream_id, version, position, at=AT)


def on_account(payload: ev.DomainEvent) -> tuple[str, ...]:
    return operation(recorded(payload, ev.account_stream_id(ACCOUNT)))


def on_transfer(payload: ev.DomainEvent) -> tuple[str, ...]:
    return operation(recorded(payload, ev.transfer_stream_id(TRANSFER)))


HEAD = (str(ACCOUNT), "3", "42", AT.isoformat())
THEAD = (str(TRANSFER), "3", "42", AT.isoformat())


def test_account_events_become_operations_with_absolute_balances() -> None:
    assert on_account(ev.AccountOpened(account_id=ACCOUNT, holder_name="Ada", currency="EUR", overdraft_limit=500)) == (
        "O",
        *HEAD,
        "EUR",
        "Ada",
        "500",
    )
    assert on_account(ev.AccountFrozen(account_id=ACCOUNT)) == ("S", *HEAD, "frozen", "", "")
    assert on_account(ev.AccountUnfrozen(account_id=ACCOUNT)) == ("S", *HEAD, "open", "", "")
    assert on_account(ev.AccountClosed(account_id=ACCOUNT)) == ("S", *HEAD, "closed", "", "")
    for movement in (
        TransferFacts(TRANSFER, OTHER, ACCOUNT, 70).credited(balance_after=-30),
        TransferFacts(TRANSFER, ACCOUNT, OTHER, 70).debited(balance_after=-30),
    ):
        assert on_account(movement) == ("M", *HEAD, "-30", "70", "EUR")


def test_an_erasure_becomes_the_masking_operation() -> None:
    erased = ev.AccountPersonalDataErased(
        account_id=ACCOUNT,
        key_id="0123456789abcdef0123456789abcdef",
        erased_by="admin",
        reason="asked to be forgotten",
        erased_at=AT,
    )
    assert on_account(erased) == ("E", *HEAD, "", "", "")


def test_holds_become_signed_deltas() -> None:
    expires = AT + timedelta(minutes=1)
    hold = TransferFacts(TRANSFER, ACCOUNT, OTHER, 9, "USD")
    placed, released = hold.hold_placed(expires), hold.hold_released(ev.HoldReleaseReason.EXPIRED)
    assert on_account(placed) == ("H", *HEAD, "9", "USD", "")
    assert on_account(released) == ("H", *HEAD, "-9", "USD", "")


def test_only_posted_transfers_carry_volume() -> None:
    facts = TransferFacts(TRANSFER, ACCOUNT, OTHER, 15)
    posted, pending = facts.posted(), facts.pending(expires_at=AT + timedelta(minutes=1))
    assert on_transfer(posted) == ("T", *THEAD, "posted", "15", "EUR")
    assert on_transfer(facts.pending_posted()) == ("T", *THEAD, "posted", "15", "EUR")
    assert on_transfer(pending) == ("T", *THEAD, "pending", "0", "EUR")
    assert on_transfer(ev.TransferVoided(transfer_id=TRANSFER)) == ("T", *THEAD, "voided", "0", "")
    assert on_transfer(ev.TransferExpired(transfer_id=TRANSFER)) == ("T", *THEAD, "expired", "0", "")


def test_every_operation_has_the_fixed_width_the_script_steps_by() -> None:
    ops = [
        on_account(ev.AccountFrozen(account_id=ACCOUNT)),
        on_transfer(ev.TransferVoided(transfer_id=TRANSFER)),
    ]
    assert all(len(op) == FIELDS_PER_OPERATION for op in ops)
    assert flatten(ops) == [*ops[0], *ops[1]]


def test_an_event_of_another_entity_than_its_stream_is_refused() -> None:
    with pytest.raises(UnappliableEvent, match="recorded in stream"):
        operation(recorded(ev.AccountFrozen(account_id=OTHER), ev.account_stream_id(ACCOUNT)))


def test_an_event_never_appended_is_refused() -> None:
    envelope = ledger.envelope(ev.AccountFrozen(account_id=ACCOUNT), ev.account_stream_id(ACCOUNT), 1, at=AT)
    with pytest.raises(UnappliableEvent, match="never appended"):
        operation(envelope)


def test_progress_keeps_per_partition_the_next_offset_and_the_highest_known_position() -> None:
    items = [(("t", 0), 5, 10), (("t", 0), 6, 8), (("t", 1), 2, None), (("t", 0), 4, 12)]
    assert _progress(items) == ["t|0", "7", "12", "t|1", "3", ""]


def test_key_names_and_patterns() -> None:
    keys = KeySpace("a*b")
    assert keys.live == "a*b:live"
    assert keys.account(3, ACCOUNT) == f"a*b:v3:account:{ACCOUNT}"
    assert keys.version_pattern(3) == r"a\*b:v3:*"
    assert keys.parse_meta_key("a*b:v12:meta") == 12
    assert keys.parse_meta_key("a*b:v12:account:x:meta") is None
    assert parse_partition_field(partition_field(("ns.eventledger.accounts.v1", 4))) == (
        "ns.eventledger.accounts.v1",
        4,
    )
    with pytest.raises(ValueError, match="key base"):
        KeySpace("has space")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (redis.ConnectionError("refused"), True),
        (redis.exceptions.BusyLoadingError("loading"), True),
        (redis.TimeoutError("slow"), True),
        (redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"), True),
        (redis.ResponseError("ELBUSY version 3 is handing over to a rebuilt version"), True),
        (redis.ResponseError("ELPOISON account x was never opened"), False),
        (UnappliableEvent("no place"), False),
        (ConnectionError("socket"), True),
    ],
)
def test_store_outages_are_transient_and_event_faults_are_not(error: BaseException, transient: bool) -> None:
    projection = RedisProjection.__new__(RedisProjection)  # is_transient needs no connection
    assert projection.is_transient(error) is transient
