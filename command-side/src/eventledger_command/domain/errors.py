"""Refusals of the domain: every rule of the product specification has a typed error with a stable code.

The ``code`` strings are a public contract (the HTTP problem ``type`` is derived from them). The three
intermediate classes tell the application how to answer: ``InvalidCommandError`` means the request itself is
malformed (422), ``RuleViolationError`` a business-rule refusal (409), ``NotFoundError`` an unknown id (404).
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A command refused by a domain rule; nothing was decided, no event is to be appended."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, str | int] = dict(details)


class InvalidCommandError(DomainError):
    """The command's own data breaks a rule, whatever the state (e.g. a non-positive amount)."""

    code = "invalid_command"


class RuleViolationError(DomainError):
    """The command is well-formed but the current state refuses it (e.g. insufficient funds)."""

    code = "rule_violation"


class NotFoundError(DomainError):
    """The command names an account or transfer that does not exist."""

    code = "not_found"


class AccountNotFoundError(NotFoundError):
    """No account stream exists under this id."""


class TransferNotFoundError(NotFoundError):
    """No transfer stream exists under this id."""


class InvalidAmountError(InvalidCommandError):
    """An amount is not a strictly positive integer count of minor units."""

    code = "invalid_amount"


class InvalidCurrencyError(InvalidCommandError):
    """A currency is not an active ISO 4217 alphabetic code."""

    code = "invalid_currency"


class InvalidHolderNameError(InvalidCommandError):
    """A holder name is empty or blank, or holds a character the store cannot keep."""

    code = "invalid_holder_name"


class InvalidDescriptionError(InvalidCommandError):
    """A description holds a character the store cannot keep (NUL, a lone surrogate)."""

    code = "invalid_description"


class InvalidOverdraftLimitError(InvalidCommandError):
    """An overdraft limit is negative or not an integer."""

    code = "invalid_overdraft_limit"


class InvalidTimeoutError(InvalidCommandError):
    """A pending transfer's timeout is not strictly positive."""

    code = "invalid_timeout"


class InvalidValueDateError(InvalidCommandError):
    """A value date is further in the past than the back-dating window allows, or in the future beyond the clock
    skew allowed, or given for a pending transfer (whose money counts when it is posted)."""

    code = "invalid_value_date"


class SameAccountError(InvalidCommandError):
    """A transfer names the same account as source and destination."""

    code = "same_account"


class CurrencyMismatchError(RuleViolationError):
    """A movement's currency differs from an account's currency."""

    code = "currency_mismatch"


class InsufficientFundsError(RuleViolationError):
    """A debit or a new hold would leave ``available`` below zero."""

    code = "insufficient_funds"


class AccountFrozenError(RuleViolationError):
    """The account is frozen: no debit, no new hold (and it cannot be frozen twice)."""

    code = "account_frozen"


class AccountNotFrozenError(RuleViolationError):
    """Only a frozen account can be unfrozen."""

    code = "account_not_frozen"


class AccountClosedError(RuleViolationError):
    """The account is closed: no movement and no status change at all."""

    code = "account_closed"


class AccountNotEmptyError(RuleViolationError):
    """Closing needs a balance of exactly zero."""

    code = "account_not_empty"


class AccountHasOpenHoldsError(RuleViolationError):
    """Closing needs no open hold."""

    code = "account_has_open_holds"


class HoldNotFoundError(RuleViolationError):
    """The account has no open hold for this transfer."""

    code = "hold_not_found"


class HoldAlreadyPlacedError(RuleViolationError):
    """The account already holds an amount for this transfer."""

    code = "hold_already_placed"


class TransferNotPendingError(RuleViolationError):
    """Only a pending transfer can be posted, voided or expired."""

    code = "transfer_not_pending"


class TransferExpiredError(RuleViolationError):
    """The pending transfer reached its timeout: it can no longer be posted."""

    code = "transfer_expired"


class TransferNotExpiredError(RuleViolationError):
    """The pending transfer's timeout has not passed yet: it cannot be expired."""

    code = "transfer_not_expired"


class CorruptHistoryError(Exception):
    """A stream's events cannot have happened in this order (a bug or tampering), e.g. a credit before the
    account was opened. Not a ``DomainError``: no client command can cause it.
    """
