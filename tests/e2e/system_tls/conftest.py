from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.servers import Endpoints
from tests.support.system import RunningSystem, running_system

from eventledger_gateway.devcert import DevCertificate, ensure_dev_certificate


@pytest.fixture(scope="package")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> DevCertificate:
    files, _ = ensure_dev_certificate(tmp_path_factory.mktemp("tls"))
    return files


@pytest.fixture(scope="package")
def tls_ledger(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory, certificate: DevCertificate
) -> Iterator[RunningSystem]:
    """The whole system as `make up TLS=1` starts it: the certificate variables set for `system up`."""
    tls_env = {
        "EVENTLEDGER_GATEWAY_TLS_CERT_FILE": str(certificate.cert_file),
        "EVENTLEDGER_GATEWAY_TLS_KEY_FILE": str(certificate.key_file),
    }
    try:
        with running_system(tmp_path_factory.mktemp("system"), extra_env=tls_env) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
