"""Request and response bodies of the command API. Separate types from commands and events."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from eventledger_events.personal import is_sealed
from eventledger_events.values import StorableText

Amount = Annotated[StrictInt, Field(gt=0, le=10**15, description="Minor units (cents); an integer, never a float.")]


def _not_sealed(text: str) -> str:
    """Plaintext only: text in the sealed form would be stored as if it were sealed already."""
    if is_sealed(text):
        raise ValueError("must not have the form of a sealed value (pii:1:...)")
    return text


PersonalText = Annotated[StorableText, AfterValidator(_not_sealed)]
"""Personal text a client gives (a holder name, a description): bounded here as plaintext; events carry it sealed."""
Description = Annotated[PersonalText, Field(max_length=500, description="Free text shown on statements and searched.")]


def _rfc3339_text(value: object) -> object:
    """A JSON number would be read as seconds since 1970: a value date is only ever written as text."""
    if isinstance(value, int | float):
        raise ValueError("an RFC 3339 instant as text, e.g. 2026-03-31T18:00:00Z")
    return value


ValueDate = Annotated[
    Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)] | None,
    Field(
        description=(
            "When the money counts (RFC 3339 instant with a time zone); default: now. An earlier one back-dates the "
            "movement (recorded as such) within the back-dating window (EVENTLEDGER_COMMAND_BACKDATE_WINDOW_DAYS); "
            "one outside the window, or in the future beyond a few minutes of clock skew, answers 422 "
            "`invalid_value_date` with the `earliest` and `latest` allowed."
        )
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OpenAccountRequest(_Request):
    holder_name: Annotated[PersonalText, Field(min_length=1, max_length=200)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")]
    overdraft_limit: Annotated[StrictInt, Field(ge=0, le=10**15)] = 0

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"holder_name": "Ada Lovelace", "currency": "EUR", "overdraft_limit": 0}]},
    )


class MovementRequest(_Request):
    account_id: UUID
    amount: Amount
    description: Description = ""
    value_date: ValueDate = None

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"account_id": "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10", "amount": 2500, "description": "top-up"}
            ]
        },
    )


class TransferRequest(_Request):
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount
    description: Description = ""
    pending: bool = False
    timeout_seconds: Annotated[StrictInt, Field(ge=1, le=30 * 24 * 3600)] | None = Field(
        default=None, description="Required with pending=true: the hold expires after this many seconds."
    )
    value_date: ValueDate = None

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "from_account_id": "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10",
                    "to_account_id": "5d1c9f0a-2b8e-4e7d-a6c3-1f9e8d7c6b5a",
                    "amount": 1250,
                    "description": "rent share",
                    "pending": True,
                    "timeout_seconds": 3600,
                }
            ]
        },
    )


class AccountCommandResponse(BaseModel):
    account_id: UUID
    version: int = Field(description="The account stream's version after this command.")
    position: int = Field(description="Global log position of the command's last event (for X-Min-Position).")


class TransferCommandResponse(BaseModel):
    transfer_id: UUID
    status: Literal["posted", "pending", "voided", "expired"]
    position: int = Field(description="Global log position of the command's last event (for X-Min-Position).")
