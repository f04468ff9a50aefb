"""Annotated field types shared by every event payload.

Money is always an integer count of minor units (cents) next to an ISO 4217 currency code; never a float.
The annotations validate shape only (e.g. three upper-case letters): business rules live in the domain, and
an event once written must stay readable even if a rule later tightens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, Strict, StringConstraints

from eventledger_events.bounds import MAX_INT64, STORABLE_TEXT_PATTERN, require_storable_text


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 alphabetic currency code, e.g. EUR."),
]
"""Three upper-case letters naming an ISO 4217 currency."""

PositiveMinorUnits = Annotated[
    int,
    Strict(),
    Field(gt=0, description="Amount in minor units of the currency (e.g. cents); always > 0."),
]
"""An amount of money moved: a strictly positive integer count of minor units (bools and floats refused)."""

NonNegativeMinorUnits = Annotated[
    int,
    Strict(),
    Field(ge=0, description="Amount in minor units of the currency (e.g. cents); >= 0."),
]
"""A limit expressed in minor units: zero or more."""

SignedMinorUnits = Annotated[
    int,
    Strict(),
    Field(description="Signed amount in minor units of the currency (e.g. cents)."),
]
"""A balance in minor units; negative when an overdraft is used."""

UtcDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC. Naive datetimes are refused."""


def _storable(value: object) -> object:
    return require_storable_text(value) if isinstance(value, str) else value


StorableText = Annotated[
    str,
    BeforeValidator(_storable),
    Field(json_schema_extra={"pattern": STORABLE_TEXT_PATTERN}),
]
"""Text PostgreSQL can store: no NUL character, no lone surrogate (:mod:`eventledger_events.bounds`). Every text
field a client gives (holder names, descriptions, search terms) has this type, at every edge and in every event."""

Int64 = Annotated[int, Field(le=MAX_INT64)]
"""An integer the store's ``bigint`` columns can hold (positions, versions, counts); combine with a lower bound."""

HolderName = Annotated[
    StorableText,
    StringConstraints(min_length=1),
    Field(description="Name of the account holder."),
]
"""A non-empty name."""

Description = Annotated[StorableText, Field(description="Free text given by the client; may be empty.")]
"""Free text attached to a money movement."""

ERASURE_REASON_MAX_LENGTH = 500
"""The longest reason an erasure may record, in characters."""

ErasureReason = Annotated[
    StorableText,
    StringConstraints(min_length=1, max_length=ERASURE_REASON_MAX_LENGTH),
    Field(description="Why the holder's personal data was erased (an operator's words; never personal data)."),
]
"""Why an erasure was done: non-empty, bounded text."""

ValueDate = Annotated[
    UtcDateTime | None,
    Field(
        description=(
            "When the money counts (the value date), as a UTC instant; absent on events written before v2, which "
            "count from when they were recorded."
        )
    ),
]
"""The value date of a movement: when its money counts, as distinct from when the ledger recorded it."""

Backdated = Annotated[
    bool,
    Field(description="True when the movement was recorded with a value date earlier than its recording."),
]
"""Whether a movement was back-dated (recorded after the moment its money counts from)."""
