from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.servers import Endpoints
from tests.support.system import RunningSystem, running_system


@pytest.fixture(scope="package")
def ledger(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """The whole system, started as `make up` starts it (supervisor, every service, demo data); stopped when this
    package's tests are done, so that the fault tier can start its own on the same ports. With Prometheus
    (``make up PROMETHEUS=1``): the TLS package and the fault tier run the system without it."""
    try:
        with running_system(tmp_path_factory.mktemp("system"), prometheus=True) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
