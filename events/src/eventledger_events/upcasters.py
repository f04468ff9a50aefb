"""Upcasters: pure functions turning the JSON-shaped payload of version N into version N+1.

They work on plain dicts (``model_dump(mode="json")`` shape) so a chain can run without intermediate models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def account_opened_v1_to_v2(payload: Mapping[str, Any]) -> dict[str, Any]:
    """v1 had no overdraft limit: such accounts were opened with none, i.e. 0."""
    return {**payload, "overdraft_limit": 0}


def movement_v1_to_v2(payload: Mapping[str, Any]) -> dict[str, Any]:
    """v1 movements (``account.credited``, ``account.debited``, ``transfer.posted``) had no value date: they count
    from when they were recorded, which the payload does not hold, so the value date stays absent (``None``:
    readers use the recording time) and they were not back-dated."""
    return {**payload, "value_date": None, "backdated": False}
