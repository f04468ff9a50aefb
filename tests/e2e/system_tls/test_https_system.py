"""The system as `make up TLS=1` runs it (ADR 0023): clients reach the API and the dashboard over HTTPS only, with
HSTS and the browser headers, trusting the development CA; the gateway instances behind HAProxy answer plain HTTP
on loopback."""

from __future__ import annotations

import ssl

import httpx
import pytest
from tests.support.system import ROLES, RunningSystem

from eventledger_gateway.devcert import DevCertificate
from eventledger_gateway.security import DASHBOARD_CSP
from eventledger_infra import system

HSTS = "max-age=31536000"


def test_a_client_trusting_the_ca_writes_and_reads_over_https(
    tls_ledger: RunningSystem, certificate: DevCertificate
) -> None:
    assert tls_ledger.gateway_url.startswith("https://")
    trusting = ssl.create_default_context(cafile=certificate.ca_file)
    token = {"Authorization": f"Bearer {tls_ledger.token(*ROLES)}"}
    with httpx.Client(base_url=tls_ledger.gateway_url, verify=trusting, headers=token, timeout=30) as api:
        opened = api.post("/v1/accounts", json={"holder_name": "Tess Transport", "currency": "EUR"})
        assert opened.status_code == 201
        account = opened.json()
        read = api.get(f"/v1/accounts/{account['account_id']}", headers={"X-Min-Position": str(account["position"])})
        assert read.status_code == 200
        for answer in (opened, read):
            assert answer.headers["strict-transport-security"] == HSTS
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["x-content-type-options"] == "nosniff"
        page = api.get("/dashboard/")
        assert page.headers["content-security-policy"] == DASHBOARD_CSP
        assert page.headers["strict-transport-security"] == HSTS


def test_the_public_port_refuses_plain_http_and_untrusting_clients(tls_ledger: RunningSystem) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(tls_ledger.gateway_url.replace("https://", "http://") + "/healthz", timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_ledger.gateway_url}/healthz", timeout=10)


def test_the_hop_to_a_gateway_instance_is_plain_http_on_loopback(tls_ledger: RunningSystem) -> None:
    instance = next(spec for spec in system.services() if spec.service == "gateway")
    answer = httpx.get(f"http://127.0.0.1:{instance.port}/healthz", timeout=10)
    assert answer.status_code == 200
    assert "strict-transport-security" not in answer.headers  # it does not serve TLS, so it promises none


def test_make_up_prints_the_https_addresses_and_how_to_trust_them(
    tls_ledger: RunningSystem, certificate: DevCertificate
) -> None:
    assert f"{tls_ledger.gateway_url}/dashboard/#token=" in tls_ledger.output
    assert f"curl --cacert {certificate.ca_file} " in tls_ledger.output
