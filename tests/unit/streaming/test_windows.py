"""The stream job's pure parts: which events count, the idempotent fold, the windows a posting counts in, how a
partition's cursor judges each offset, and the derived topic's message format."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from faust.windows import HoppingWindow, TumblingWindow
from tests.support import ledger

from eventledger_events import (
    DomainEvent,
    EventEnvelope,
    TransferKind,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
    transfer_stream_id,
)
from eventledger_projections.streaming.app import Cursor, Verdict
from eventledger_projections.streaming.publisher import message_of, producer_settings
from eventledger_projections.streaming.sink import WindowFigures
from eventledger_projections.streaming.windows import (
    TRANSFERS_PER_MINUTE,
    VOLUME_FIVE_MINUTES,
    Posted,
    WindowCell,
    fold,
    posted_transfer,
    windows_of,
)

AT = datetime(2026, 6, 1, 12, 3, 30, tzinfo=UTC)
TRANSFER = uuid.uuid4()
LEGS = {"from_account_id": uuid.uuid4(), "to_account_id": uuid.uuid4(), "amount": 250, "currency": "EUR"}


def recorded(payload: DomainEvent, position: int = 7) -> EventEnvelope:
    return ledger.recorded(payload, transfer_stream_id(TRANSFER), 1, position, at=AT)


def test_postings_count_and_nothing_else_does() -> None:
    one_phase = posted_transfer(recorded(TransferPosted(transfer_id=TRANSFER, kind=TransferKind.DEPOSIT, **LEGS)))
    two_phase = posted_transfer(recorded(TransferPendingPosted(transfer_id=TRANSFER, **LEGS), position=9))
    assert one_phase is not None
    assert (one_phase.currency, one_phase.amount, one_phase.position, one_phase.recorded_at) == ("EUR", 250, 7, AT)
    assert two_phase is not None
    assert two_phase.position == 9
    pending = TransferPendingCreated(
        transfer_id=TRANSFER, kind=TransferKind.TRANSFER, expires_at=AT + timedelta(minutes=1), **LEGS
    )
    assert posted_transfer(recorded(pending)) is None
    assert posted_transfer(recorded(TransferVoided(transfer_id=TRANSFER))) is None


def test_the_fold_counts_each_position_once() -> None:
    cell = fold(None, {"amount": 100, "position": 5})
    assert cell == {"n": 1, "v": 100, "m": 5}
    cell = fold(cell, {"amount": 50, "position": 8})
    assert cell == {"n": 2, "v": 150, "m": 8}
    assert fold(cell, {"amount": 50, "position": 8}) == cell, "the same event again"
    assert fold(cell, {"amount": 100, "position": 5}) == cell, "an older event replayed"
    assert fold({}, {"amount": 1, "position": 1}) == {"n": 1, "v": 1, "m": 1}


def test_faust_puts_a_posting_in_one_minute_window_and_five_hopping_ones() -> None:
    stamp = AT.timestamp()
    minute = TumblingWindow(TRANSFERS_PER_MINUTE.size).ranges(stamp)
    assert [round(start) for start, _ in minute] == [int(datetime(2026, 6, 1, 12, 3, tzinfo=UTC).timestamp())]
    hopping = HoppingWindow(VOLUME_FIVE_MINUTES.size, VOLUME_FIVE_MINUTES.step).ranges(stamp)
    starts = [round(start) for start, _ in hopping]
    assert starts == [int((AT.replace(second=0) - timedelta(minutes=k)).timestamp()) for k in (4, 3, 2, 1, 0)]
    assert all(start <= stamp < start + VOLUME_FIVE_MINUTES.size for start in starts)


def test_a_posting_counts_in_its_minute_and_the_five_hopping_windows_of_its_currency() -> None:
    minute = int(AT.replace(second=0).timestamp())
    cells = windows_of(Posted("USD", 250, 7, AT))
    assert cells[0] == WindowCell("tumbling-1m", minute, minute + 60, "USD")
    hopping = [WindowCell("hopping-5m-1m", minute - 60 * k, minute - 60 * k + 300, "USD") for k in (4, 3, 2, 1, 0)]
    assert cells[1:] == hopping


def test_a_cursor_handles_the_next_offset_skips_what_is_counted_and_sees_a_gap() -> None:
    cursor = Cursor(generation=3, expected=10, saved=9)
    assert cursor.verdict(10) is Verdict.HANDLE
    cursor.handled(10)
    assert cursor.expected == 11
    assert cursor.verdict(4) is Verdict.DONE, "a redelivery below the next offset"
    assert cursor.verdict(14) is Verdict.GAP, "offsets 11 to 13 were never handed over"


def test_the_derived_message_is_keyed_by_window_and_carries_the_revision() -> None:
    start = int(AT.replace(second=0).timestamp())
    figures = WindowFigures("hopping-5m-1m", start, start + 300, "EUR", 12, 34_500, 7)
    key, value = message_of(figures, AT)
    assert key == b"hopping-5m-1m|EUR|2026-06-01T12:03:00+00:00"
    assert json.loads(value) == {
        "window": "hopping-5m-1m",
        "window_start": "2026-06-01T12:03:00+00:00",
        "window_end": "2026-06-01T12:08:00+00:00",
        "currency": "EUR",
        "transfers": 12,
        "volume": 34_500,
        "revision": 7,
        "emitted_at": AT.isoformat(),
    }


def test_the_derived_topic_producer_is_idempotent_and_waits_for_every_replica() -> None:
    settings = producer_settings("127.0.0.1:1", "x")
    assert settings["acks"] == "all"
    assert settings["enable_idempotence"] is True
