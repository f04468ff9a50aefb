"""The stream job's windows, and how one posted transfer counts in them. Pure: no I/O.

Windows are in *event time*: a transfer counts in the minute its posting was recorded in the event store
(``recorded_at``), so a redelivery or a replay hours later lands in the same windows, never in "now". Which windows
contain an instant is faust's answer (its tumbling and hopping window classes).

A *cell* is one window of one currency, fed by one source partition: ``{"n": transfers, "v": volume,
"m": highest global position counted}``. Within a partition the relay publishes first appearances in position
order, so an event at or below ``m`` is already counted: folding it again changes nothing. That makes the
at-least-once job exactly-once in effect per cell, whatever is replayed after a crash, a rebalance or a rewind.
:func:`fold` is the rule; the sink's script applies the same rule to the cells in Redis, which hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from faust.windows import HoppingWindow, TumblingWindow

from eventledger_events import EventEnvelope, TransferPendingPosted, TransferPosted


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window family: ``size`` seconds long, a new one every ``step`` seconds (tumbling when equal)."""

    name: str
    size: int
    step: int


TRANSFERS_PER_MINUTE: Final = WindowSpec("tumbling-1m", size=60, step=60)
"""Transfers posted per minute (and their volume), per currency: tumbling, one-minute windows."""

VOLUME_FIVE_MINUTES: Final = WindowSpec("hopping-5m-1m", size=300, step=60)
"""Volume posted over the last five minutes, per currency: five-minute windows hopping every minute."""

WINDOWS: Final = (TRANSFERS_PER_MINUTE, VOLUME_FIVE_MINUTES)

KEEP_SECONDS: Final = 3600
"""How long a window is kept in Redis after it ends (key expiry)."""

Cell = dict[str, int]


@dataclass(frozen=True, slots=True)
class Posted:
    """A posting of money (a one-phase transfer, or a pending one posted), as the windows count it."""

    currency: str
    amount: int
    position: int
    recorded_at: datetime


def posted_transfer(envelope: EventEnvelope) -> Posted | None:
    """The posting an event records, or ``None`` for every other event (pending, voided, expired, accounts)."""
    payload = envelope.payload
    if not isinstance(payload, TransferPosted | TransferPendingPosted):
        return None
    if envelope.position is None or envelope.recorded_at is None:
        raise ValueError(f"event {envelope.event_id} was never appended")
    return Posted(payload.currency, payload.amount, envelope.position, envelope.recorded_at)


def fold(cell: Mapping[str, int] | None, contribution: Mapping[str, int]) -> Cell:
    """The cell once ``contribution`` is counted; unchanged when its position is already in."""
    current = {"n": 0, "v": 0, "m": 0, **(cell or {})}
    if contribution["position"] <= current["m"]:
        return current
    return {
        "n": current["n"] + 1,
        "v": current["v"] + contribution["amount"],
        "m": contribution["position"],
    }


@dataclass(frozen=True, slots=True)
class WindowCell:
    """Where a posting counts: one window of its currency (the cell is this plus the source partition)."""

    window: str
    start: int
    end: int
    currency: str


def windows_of(posted: Posted) -> list[WindowCell]:
    """Every window the posting counts in: its minute, and the five hopping windows that contain that instant."""
    stamp = posted.recorded_at.timestamp()
    cells: list[WindowCell] = []
    for spec in WINDOWS:
        family = TumblingWindow(spec.size) if spec.size == spec.step else HoppingWindow(spec.size, spec.step)
        for start, _ in family.ranges(stamp):
            cells.append(WindowCell(spec.name, round(start), round(start) + spec.size, posted.currency))
    return cells
