"""Value dates: when a movement's money counts, as distinct from when the ledger records it.

A movement counts from the moment it is decided (``now``) unless the caller gives an earlier value date. Back-dating
is allowed within a window (a setting) and is recorded as such; a value date after ``now`` is allowed only within a
small clock skew (the caller's clock may run a little ahead), and is then not a back-dating. Time is always passed
in: the domain reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from eventledger_command.domain.errors import InvalidValueDateError

DEFAULT_BACKDATE_WINDOW = timedelta(days=45)
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ValueDating:
    """The value date a movement carries, and whether it was back-dated (given earlier than the moment decided)."""

    value_date: datetime
    backdated: bool = False


@dataclass(frozen=True, slots=True)
class ValueDatePolicy:
    """How far back a movement may be dated (``window``) and how far ahead a caller's clock may be (``skew``)."""

    window: timedelta = DEFAULT_BACKDATE_WINDOW
    skew: timedelta = DEFAULT_CLOCK_SKEW

    def date(self, requested: datetime | None, *, now: datetime) -> ValueDating:
        """The value dating of a movement decided at ``now``: ``requested`` if it is allowed, else ``now``.

        Refuses (``InvalidValueDateError``, naming the allowed range) a value date without a time zone, one before
        ``now - window``, and one after ``now + skew``.
        """
        if requested is None:
            return ValueDating(now)
        if requested.tzinfo is None or requested.utcoffset() is None:
            raise InvalidValueDateError("a value date needs a time zone (an RFC 3339 instant)")
        earliest, latest = now - self.window, now + self.skew
        details = {"earliest": earliest.isoformat(), "latest": latest.isoformat(), "value_date": requested.isoformat()}
        if requested < earliest:
            raise InvalidValueDateError(
                f"the value date {requested.isoformat()} is before the back-dating window, which allows "
                f"{earliest.isoformat()} at the earliest ({self.window.days} days back)",
                **details,
            )
        if requested > latest:
            raise InvalidValueDateError(
                f"the value date {requested.isoformat()} is in the future; the latest allowed is {latest.isoformat()}",
                **details,
            )
        return ValueDating(requested, backdated=requested < now)


def dated_fields(dating: ValueDating | None) -> dict[str, datetime | bool | None]:
    """The ``value_date`` and ``backdated`` fields of a movement event (none given: the value date stays absent, so
    the movement counts from its recording)."""
    if dating is None:
        return {"value_date": None, "backdated": False}
    return {"value_date": dating.value_date, "backdated": dating.backdated}
