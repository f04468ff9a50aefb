"""The domain's given/when/then helpers and in-memory ledger (tests/support/domain.py) as fixtures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import pytest
from tests.support.domain import NOW, DeciderSpec, InMemoryLedger, make_id

from eventledger_command.domain import Account, Transfer, evolve_account, evolve_transfer


@pytest.fixture
def account_spec() -> DeciderSpec[Account]:
    return DeciderSpec(evolve_account)


@pytest.fixture
def transfer_spec() -> DeciderSpec[Transfer]:
    return DeciderSpec(evolve_transfer)


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


@pytest.fixture
def ledger_factory() -> type[InMemoryLedger]:
    """For property tests, which need a fresh ledger per example."""
    return InMemoryLedger


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def ids() -> Callable[[str], UUID]:
    return make_id
