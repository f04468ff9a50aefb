from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.otlp import OtlpReceiver, otlp_receiver
from tests.support.servers import Endpoints
from tests.support.system import RunningSystem, running_system


@pytest.fixture(scope="package")
def traces() -> Iterator[OtlpReceiver]:
    """Where every process of the package's system exports its spans (OTLP/HTTP, ADR 0032)."""
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
def ledger(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory, traces: OtlpReceiver
) -> Iterator[RunningSystem]:
    """The whole system, started as `make up` starts it (supervisor, every service, demo data); stopped when this
    package's tests are done, so that the fault tier can start its own on the same ports. With Prometheus
    (``make up PROMETHEUS=1``): the TLS package and the fault tier run the system without it. Every process exports
    its spans to ``traces`` (batches every half second, so a test waits little for them)."""
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "500"}
    try:
        with running_system(tmp_path_factory.mktemp("system"), prometheus=True, extra_env=telemetry) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
