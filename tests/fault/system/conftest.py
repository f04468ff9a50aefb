from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.servers import Endpoints
from tests.support.system import RunningSystem, running_system


@pytest.fixture
def ledger(endpoints: Endpoints, tmp_path: Path) -> Iterator[RunningSystem]:
    """The whole system as `make up` runs it, on the shared servers, for one test."""
    try:
        with running_system(tmp_path / "system") as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
