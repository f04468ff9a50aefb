"""Transfer aggregate: lifecycle posted | pending -> posted | voided | expired, given/when/then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from tests.support.domain import make_id
from tests.support.ledger import TransferFacts

import eventledger_events as ev
from eventledger_command.domain import (
    CorruptHistoryError,
    InvalidAmountError,
    InvalidCurrencyError,
    InvalidTimeoutError,
    SameAccountError,
    Transfer,
    TransferExpiredError,
    TransferNotExpiredError,
    TransferNotPendingError,
    TransferStatus,
    rebuild_transfer,
)

if TYPE_CHECKING:
    from tests.support.domain import TransferSpec

pytestmark = pytest.mark.unit

TRANSFER = make_id("transfer")
SOURCE, DESTINATION = make_id("source"), make_id("destination")
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=5)


Creation = Callable[[], list[ev.TransferEvent]]


def posted(amount: int = 100, kind: ev.TransferKind = ev.TransferKind.TRANSFER) -> ev.TransferPosted:
    return _rent(amount).posted(kind)


def pending(amount: int = 100) -> ev.TransferPendingCreated:
    return _rent(amount).pending(EXPIRES)


def pending_posted(amount: int = 100) -> ev.TransferPendingPosted:
    return _rent(amount).pending_posted()


def _rent(amount: int) -> TransferFacts:
    return TransferFacts(TRANSFER, SOURCE, DESTINATION, amount, description="rent")


def _create_posted(amount: Any = 100, to: UUID = DESTINATION, currency: str = "EUR") -> Creation:
    return _create(amount, to, currency)


def _create_pending(expires_at: datetime = EXPIRES, amount: Any = 100, to: UUID = DESTINATION) -> Creation:
    return _create(amount, to, "EUR", expires_at=expires_at)


def _create(amount: Any, to: UUID, currency: str, *, expires_at: datetime | None = None) -> Creation:
    return lambda: Transfer.create(
        TRANSFER,
        kind=ev.TransferKind.TRANSFER,
        from_account_id=SOURCE,
        to_account_id=to,
        amount=amount,
        currency=currency,
        now=NOW,
        expires_at=expires_at,
        description="rent",
    )


NOT_PENDING = [
    pytest.param([posted()], id="one-phase"),
    pytest.param([pending(), pending_posted()], id="posted"),
    pytest.param([pending(), ev.TransferVoided(transfer_id=TRANSFER)], id="voided"),
    pytest.param([pending(), ev.TransferExpired(transfer_id=TRANSFER)], id="expired"),
]
"""Histories of a transfer that is no longer (or never was) pending."""


class TestCreation:
    def test_a_one_phase_transfer_is_posted_at_once(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given().when_creating(_create_posted()).then(posted())

    def test_a_two_phase_transfer_starts_pending_until_its_expiry(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given().when_creating(_create_pending()).then(pending())

    @pytest.mark.parametrize("amount", [0, -1, 1.0, True])
    def test_the_amount_must_be_a_positive_integer(self, transfer_spec: TransferSpec, amount: Any) -> None:
        nothing = transfer_spec.given()
        nothing.when_creating(_create_posted(amount)).then_raises(InvalidAmountError, "invalid_amount")
        nothing.when_creating(_create_pending(amount=amount)).then_raises(InvalidAmountError, "invalid_amount")

    def test_the_accounts_must_differ(self, transfer_spec: TransferSpec) -> None:
        nothing = transfer_spec.given()
        nothing.when_creating(_create_posted(to=SOURCE)).then_raises(SameAccountError, "same_account")
        nothing.when_creating(_create_pending(to=SOURCE)).then_raises(SameAccountError, "same_account")

    def test_the_currency_must_be_iso_4217(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given().when_creating(_create_posted(currency="EU")).then_raises(
            InvalidCurrencyError, "invalid_currency"
        )

    @pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1)])
    def test_a_pending_transfer_must_expire_in_the_future(self, transfer_spec: TransferSpec, expires_at: Any) -> None:
        transfer_spec.given().when_creating(_create_pending(expires_at)).then_raises(
            InvalidTimeoutError, "invalid_timeout"
        )


class TestPosting:
    def test_a_pending_transfer_is_posted_before_it_expires(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given(pending()).when(lambda t: t.post(EXPIRES - timedelta(microseconds=1))).then(
            pending_posted()
        )

    @pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
    def test_posting_after_the_expiry_is_refused(self, transfer_spec: TransferSpec, late: timedelta) -> None:
        transfer_spec.given(pending()).when(lambda t: t.post(EXPIRES + late)).then_raises(
            TransferExpiredError, "transfer_expired"
        )

    @pytest.mark.parametrize("history", NOT_PENDING)
    def test_only_a_pending_transfer_can_be_posted(self, transfer_spec: TransferSpec, history: list[Any]) -> None:
        transfer_spec.given(*history).when(lambda t: t.post(NOW)).then_raises(
            TransferNotPendingError, "transfer_not_pending"
        )


class TestVoiding:
    def test_a_pending_transfer_can_be_voided(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given(pending()).when(Transfer.void).then(ev.TransferVoided(transfer_id=TRANSFER))

    @pytest.mark.parametrize("history", NOT_PENDING)
    def test_only_a_pending_transfer_can_be_voided(self, transfer_spec: TransferSpec, history: list[Any]) -> None:
        transfer_spec.given(*history).when(Transfer.void).then_raises(TransferNotPendingError, "transfer_not_pending")


class TestExpiry:
    def test_a_pending_transfer_expires_once_its_timeout_has_passed(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given(pending()).when(lambda t: t.expire(EXPIRES)).then(ev.TransferExpired(transfer_id=TRANSFER))
        transfer_spec.given(pending()).when(lambda t: t.expire(EXPIRES + timedelta(hours=1))).then(
            ev.TransferExpired(transfer_id=TRANSFER)
        )

    def test_a_pending_transfer_does_not_expire_early(self, transfer_spec: TransferSpec) -> None:
        transfer_spec.given(pending()).when(lambda t: t.expire(EXPIRES - timedelta(microseconds=1))).then_raises(
            TransferNotExpiredError, "transfer_not_expired"
        )

    @pytest.mark.parametrize(
        "history",
        [[posted()], [pending(), pending_posted()], [pending(), ev.TransferVoided(transfer_id=TRANSFER)]],
        ids=["one-phase", "posted", "voided"],
    )
    def test_only_a_pending_transfer_can_expire(self, transfer_spec: TransferSpec, history: list[Any]) -> None:
        transfer_spec.given(*history).when(lambda t: t.expire(EXPIRES + timedelta(days=1))).then_raises(
            TransferNotPendingError, "transfer_not_pending"
        )


class TestEvolution:
    @pytest.mark.parametrize(
        ("history", "status"),
        [
            ([posted()], TransferStatus.POSTED),
            ([pending()], TransferStatus.PENDING),
            ([pending(), pending_posted()], TransferStatus.POSTED),
            ([pending(), ev.TransferVoided(transfer_id=TRANSFER)], TransferStatus.VOIDED),
            ([pending(), ev.TransferExpired(transfer_id=TRANSFER)], TransferStatus.EXPIRED),
        ],
    )
    def test_status_follows_the_events(self, history: list[Any], status: TransferStatus) -> None:
        transfer = rebuild_transfer(history)
        assert transfer is not None
        assert transfer.status is status

    def test_expiry_is_known_only_for_pending_transfers(self) -> None:
        assert rebuild_transfer([pending()]).expires_at == EXPIRES  # type: ignore[union-attr]
        assert rebuild_transfer([posted()]).expires_at is None  # type: ignore[union-attr]
        assert not rebuild_transfer([posted()]).is_expired_at(NOW + timedelta(days=999))  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "history",
        [
            [ev.TransferVoided(transfer_id=TRANSFER)],
            [posted(), posted()],
            [posted(), ev.TransferVoided(transfer_id=TRANSFER)],
            [pending(), ev.TransferExpired(transfer_id=TRANSFER), pending_posted()],
        ],
        ids=["void-before-creation", "created-twice", "void-after-post", "post-after-expiry"],
    )
    def test_impossible_histories_are_reported(self, history: list[Any]) -> None:
        with pytest.raises(CorruptHistoryError):
            rebuild_transfer(history)
