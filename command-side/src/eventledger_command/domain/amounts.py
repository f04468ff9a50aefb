"""Checks on money amounts given to commands (integers of minor units, never floats or booleans)."""

from __future__ import annotations

from eventledger_command.domain.errors import InvalidAmountError, InvalidOverdraftLimitError


def require_positive_amount(amount: int) -> int:
    """Answer ``amount`` if it is an ``int`` > 0; refuse floats, booleans, zero and negatives."""
    if type(amount) is not int or amount <= 0:
        raise InvalidAmountError(f"amount must be a positive integer of minor units, not {amount!r}")
    return amount


def require_overdraft_limit(limit: int) -> int:
    """Answer ``limit`` if it is an ``int`` >= 0."""
    if type(limit) is not int or limit < 0:
        raise InvalidOverdraftLimitError(f"overdraft limit must be an integer >= 0, not {limit!r}")
    return limit
