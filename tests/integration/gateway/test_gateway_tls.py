"""The gateway program (``python -m eventledger_gateway serve``) given a certificate and key answers HTTPS only
(ADR 0023): a client that trusts the development CA gets answers with HSTS, one that does not refuses the server,
plain HTTP gets no answer, and TLS below 1.2 or without forward-secret AEAD suites is refused."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.support.processes import free_port, wait_for

from eventledger_gateway.devcert import DevCertificate, ensure_dev_certificate

NOBODY = "http://127.0.0.1:9"


@dataclass(frozen=True)
class TlsGateway:
    port: int
    files: DevCertificate

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _answers(url: str, ca_file: Path) -> bool:
    try:
        return httpx.get(f"{url}/healthz", verify=ssl.create_default_context(cafile=ca_file), timeout=2).is_success
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsGateway]:
    directory = tmp_path_factory.mktemp("tls-gateway")
    files, _ = ensure_dev_certificate(directory / "tls")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("EVENTLEDGER_")}
    env |= {
        "EVENTLEDGER_GATEWAY_PORT": str(port),
        "EVENTLEDGER_GATEWAY_COMMAND_URL": NOBODY,
        "EVENTLEDGER_GATEWAY_QUERY_URL": NOBODY,
        "EVENTLEDGER_GATEWAY_TLS_CERT_FILE": str(files.cert_file),
        "EVENTLEDGER_GATEWAY_TLS_KEY_FILE": str(files.key_file),
    }
    log = directory / "gateway.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eventledger_gateway", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    running = TlsGateway(port, files)
    try:
        wait_for(lambda: process.poll() is not None or _answers(running.url, files.ca_file), 30, "the TLS gateway")
        assert process.poll() is None, log.read_text()
        yield running
    finally:
        process.terminate()
        process.wait(30)


def test_a_client_trusting_the_ca_gets_answers_with_hsts(gateway: TlsGateway) -> None:
    trusting = ssl.create_default_context(cafile=gateway.files.ca_file)
    for host in ("127.0.0.1", "localhost"):
        answer = httpx.get(f"https://{host}:{gateway.port}/healthz", verify=trusting, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
        assert answer.headers["x-content-type-options"] == "nosniff"
    unauthenticated = httpx.get(f"{gateway.url}/v1/accounts", verify=trusting, timeout=10)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["strict-transport-security"] == "max-age=31536000"


def test_a_client_that_does_not_trust_the_ca_refuses_the_server(gateway: TlsGateway) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{gateway.url}/healthz", timeout=10)  # the system's trusted authorities only


def test_plain_http_gets_no_answer(gateway: TlsGateway) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{gateway.port}/healthz", timeout=10)


def _client(ca_file: Path, version: ssl.TLSVersion, ciphers: str) -> ssl.SSLContext:
    """A client that offers only ``version`` and ``ciphers`` (security level 0, so that the client itself would
    take what the server must refuse)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = version
    return context


def test_tls_12_with_a_forward_secret_aead_suite_is_served(gateway: TlsGateway) -> None:
    modern = _client(gateway.files.ca_file, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert httpx.get(f"{gateway.url}/healthz", verify=modern, timeout=10).status_code == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("version", "ciphers"),
    [
        (ssl.TLSVersion.TLSv1_1, "ECDHE-ECDSA-AES128-SHA"),  # below the floor
        (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),  # CBC, not AEAD
    ],
    ids=["tls-1.1", "tls-1.2-cbc"],
)
def test_old_protocols_and_weak_suites_are_refused(gateway: TlsGateway, version: ssl.TLSVersion, ciphers: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gateway.url}/healthz", verify=_client(gateway.files.ca_file, version, ciphers), timeout=10)
