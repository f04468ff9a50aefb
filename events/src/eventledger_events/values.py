"""Annotated field types shared by every event payload.

Money is always an integer count of minor units (cents) next to an ISO 4217 currency code; never a float.
The annotations validate shape only (e.g. three upper-case letters): business rules live in the domain, and
an event once written must stay readable even if a rule later tightens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, Strict, StringConstraints


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

HolderName = Annotated[
    str,
    StringConstraints(min_length=1),
    Field(description="Name of the account holder."),
]
"""A non-empty name."""

Description = Annotated[str, Field(description="Free text given by the client; may be empty.")]
"""Free text attached to a money movement."""
