"""Upcasters: pure functions turning the JSON-shaped payload of version N into version N+1.

They work on plain dicts (``model_dump(mode="json")`` shape) so a chain can run without intermediate models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def account_opened_v1_to_v2(payload: Mapping[str, Any]) -> dict[str, Any]:
    """v1 had no overdraft limit: such accounts were opened with none, i.e. 0."""
    return {**payload, "overdraft_limit": 0}
