"""``make up`` with a certificate (ADR 0023): HAProxy serves it on the public gateway port, the gateway instances
behind it never get the variables (their hop is loopback HTTP), and a half-given pair is refused before anything
starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventledger_infra import system
from eventledger_infra.process import ProvisioningError

CERT, KEY = system.TLS_VARIABLES


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    cert.write_text("chain\n")
    key.write_text("key\n")
    monkeypatch.setenv(CERT, str(cert))
    monkeypatch.setenv(KEY, str(key))
    return cert, key


def test_without_a_certificate_everything_is_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CERT, raising=False)
    monkeypatch.delenv(KEY, raising=False)
    assert system.public_tls_files() is None
    assert system.public_scheme() == "http"


def test_haproxy_serves_the_certificate_and_the_gateway_instances_do_not_get_it(pair: tuple[Path, Path]) -> None:
    assert system.public_tls_files() == pair
    assert system.public_scheme() == "https"
    gateways = [spec for spec in system.services(replicas=2) if spec.service == "gateway"]
    assert len(gateways) == 2
    for spec in gateways:
        assert set(system.TLS_VARIABLES) <= set(spec.unset_env)
        assert spec.ready_url.startswith("http://127.0.0.1:")
        # The tokens they issue name the address clients use: HAProxy's, over HTTPS (ADR 0024).
        assert spec.env["EVENTLEDGER_GATEWAY_OAUTH_ISSUER"] == f"https://127.0.0.1:{system.public_ports()['gateway']}"


def test_haproxys_file_holds_the_chain_then_the_key_readable_by_its_owner_only(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    target = tmp_path / "system" / "haproxy-gateway.pem"
    target.parent.mkdir()
    tls = system._haproxy_pem(target)
    assert tls is not None
    assert tls.pem == target
    assert target.read_text() == "chain\nkey\n"
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("missing", [CERT, KEY])
def test_half_a_pair_or_a_missing_file_is_refused_naming_the_variable(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(ProvisioningError, match="go together"):
        system.public_tls_files()
    monkeypatch.setenv(missing, "/nonexistent/file.pem")
    with pytest.raises(ProvisioningError, match=f"{missing}: no such file"):
        system.public_tls_files()
