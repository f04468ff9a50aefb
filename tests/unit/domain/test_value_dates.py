"""Value dates: a movement counts from now unless given an earlier value date within the back-dating window, which
is recorded as a back-dating; both legs of a transfer share it; anything outside the window is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid5

import pytest
from tests.support.domain import make_id

import eventledger_events as ev
from eventledger_command import domain

pytestmark = pytest.mark.unit

ALICE, BOB, T1 = make_id("alice"), make_id("bob"), make_id("t1")
NOW = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
POLICY = domain.ValueDatePolicy(window=timedelta(days=45), skew=timedelta(minutes=5))


def _account(account_id: object, funds: int = 0) -> domain.Account:
    [opened] = domain.open_account(account_id=account_id, holder_name="Holder", currency="EUR").as_dict().values()  # type: ignore[arg-type]
    state = domain.rebuild_account(opened)  # type: ignore[arg-type]
    assert state is not None
    if funds:
        funding = domain.deposit(state, transfer_id=uuid5(state.account_id, "funding"), amount=funds)
        state = domain.rebuild_account(funding.as_dict()[domain.account_stream_id(state.account_id)], state)  # type: ignore[arg-type]
        assert state is not None
    return state


def test_without_a_value_date_the_money_counts_from_now_and_is_not_backdated() -> None:
    assert POLICY.date(None, now=NOW) == domain.ValueDating(NOW, backdated=False)


def test_an_earlier_value_date_within_the_window_is_kept_and_recorded_as_backdated() -> None:
    march = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    assert POLICY.date(march, now=NOW) == domain.ValueDating(march, backdated=True)


def test_the_window_s_first_moment_is_allowed_and_the_one_before_is_refused() -> None:
    earliest = NOW - timedelta(days=45)
    assert POLICY.date(earliest, now=NOW).backdated
    with pytest.raises(domain.InvalidValueDateError) as refused:
        POLICY.date(earliest - timedelta(microseconds=1), now=NOW)
    assert refused.value.code == "invalid_value_date"
    assert refused.value.details["earliest"] == earliest.isoformat()
    assert "back-dating window" in refused.value.message


def test_a_value_date_in_another_time_zone_is_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    dating = POLICY.date(datetime(2026, 3, 31, 23, 30, tzinfo=paris), now=NOW)
    assert dating.value_date == datetime(2026, 3, 31, 21, 30, tzinfo=UTC)


def test_a_future_value_date_is_allowed_only_within_the_clock_skew() -> None:
    ahead = NOW + timedelta(minutes=5)
    assert POLICY.date(ahead, now=NOW) == domain.ValueDating(ahead, backdated=False)
    with pytest.raises(domain.InvalidValueDateError) as refused:
        POLICY.date(ahead + timedelta(seconds=1), now=NOW)
    assert "future" in refused.value.message
    assert refused.value.details["latest"] == ahead.isoformat()


def test_a_value_date_without_a_time_zone_is_refused() -> None:
    with pytest.raises(domain.InvalidValueDateError):
        POLICY.date(datetime(2026, 3, 20, 10, 0), now=NOW)


def test_a_zero_window_refuses_any_back_dating_beyond_now() -> None:
    strict = domain.ValueDatePolicy(window=timedelta(0))
    assert strict.date(NOW, now=NOW) == domain.ValueDating(NOW)
    with pytest.raises(domain.InvalidValueDateError):
        strict.date(NOW - timedelta(seconds=1), now=NOW)


def test_a_deposit_carries_its_value_date_on_the_transfer_and_the_leg() -> None:
    march = domain.ValueDating(datetime(2026, 3, 20, 10, 0, tzinfo=UTC), backdated=True)
    decision = domain.deposit(_account(ALICE), transfer_id=T1, amount=2500, dating=march).as_dict()
    [posted] = decision[domain.transfer_stream_id(T1)]
    [credited] = decision[domain.account_stream_id(ALICE)]
    assert isinstance(posted, ev.TransferPosted)
    assert isinstance(credited, ev.AccountCredited)
    assert (posted.value_date, posted.backdated) == (march.value_date, True)
    assert (credited.value_date, credited.backdated) == (march.value_date, True)


def test_a_transfer_s_value_date_applies_to_both_legs() -> None:
    march = domain.ValueDating(datetime(2026, 3, 31, 18, 0, tzinfo=UTC), backdated=True)
    decision = domain.transfer(
        _account(ALICE, funds=1000), _account(BOB), transfer_id=T1, amount=400, now=NOW, dating=march
    ).as_dict()
    legs = [*decision[domain.account_stream_id(ALICE)], *decision[domain.account_stream_id(BOB)]]
    assert [type(leg) for leg in legs] == [ev.AccountDebited, ev.AccountCredited]
    assert {(leg.value_date, leg.backdated) for leg in legs} == {(march.value_date, True)}  # type: ignore[attr-defined]


def test_a_pending_transfer_takes_no_value_date() -> None:
    march = domain.ValueDating(datetime(2026, 3, 31, 18, 0, tzinfo=UTC), backdated=True)
    with pytest.raises(domain.InvalidValueDateError):
        domain.transfer(
            _account(ALICE, funds=1000),
            _account(BOB),
            transfer_id=T1,
            amount=400,
            now=NOW,
            timeout=timedelta(minutes=10),
            dating=march,
        )


def test_the_legs_of_a_posted_pending_transfer_count_from_its_posting() -> None:
    source, target = _account(ALICE, funds=1000), _account(BOB)
    created = domain.transfer(source, target, transfer_id=T1, amount=400, now=NOW, timeout=timedelta(minutes=10))
    pending = domain.rebuild_transfer(created.as_dict()[domain.transfer_stream_id(T1)])  # type: ignore[arg-type]
    held = domain.rebuild_account(created.as_dict()[domain.account_stream_id(ALICE)], source)  # type: ignore[arg-type]
    assert pending is not None
    assert held is not None
    posted_at = NOW + timedelta(minutes=3)
    decision = domain.post_pending(pending, held, target, now=posted_at).as_dict()
    legs = [*decision[domain.account_stream_id(ALICE)], *decision[domain.account_stream_id(BOB)]]
    moved = [leg for leg in legs if isinstance(leg, ev.AccountDebited | ev.AccountCredited)]
    assert [type(leg) for leg in moved] == [ev.AccountDebited, ev.AccountCredited]
    assert {(leg.value_date, leg.backdated) for leg in moved} == {(posted_at, False)}


def test_a_v1_movement_is_upcast_without_a_value_date_and_not_backdated() -> None:
    data = {
        "account_id": str(ALICE),
        "transfer_id": str(T1),
        "amount": 5,
        "currency": "EUR",
        "balance_after": 5,
        "counterparty_account_id": str(BOB),
    }
    credited = ev.payload_from_dict("account.credited", 1, data)
    assert isinstance(credited, ev.AccountCredited)
    assert (credited.value_date, credited.backdated) == (None, False)
