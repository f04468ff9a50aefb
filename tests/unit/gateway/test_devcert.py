"""The development certificate (ADR 0023): made once and then kept, its key private, the server certificate valid
for the local names only, and an authority that can vouch for nothing else and whose key is gone."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from eventledger_gateway.cli import main
from eventledger_gateway.devcert import ensure_dev_certificate
from eventledger_runtime.settings import load_settings


def test_it_is_made_once_and_then_kept(tmp_path: Path) -> None:
    files, made = ensure_dev_certificate(tmp_path / "tls")
    first = [path.read_bytes() for path in (files.ca_file, files.cert_file, files.key_file)]
    again, made_again = ensure_dev_certificate(tmp_path / "tls")
    assert (made, made_again) == (True, False)
    assert [path.read_bytes() for path in (again.ca_file, again.cert_file, again.key_file)] == first


def test_only_the_server_key_is_written_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ca.pem", "server-key.pem", "server.pem"]
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    assert files.ca_file.read_text().count("PRIVATE KEY") == 0
    assert files.cert_file.read_text().count("PRIVATE KEY") == 0


def test_the_server_certificate_is_for_the_local_names_and_chains_to_the_authority(tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    server = x509.load_pem_x509_certificates(files.cert_file.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    context = ssl.create_default_context(cafile=str(files.ca_file))
    context.load_cert_chain(files.cert_file, files.key_file)  # the key is the certificate's


def test_the_authority_can_vouch_for_the_local_names_only(tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.permitted_subtrees is not None
    assert {str(name.value) for name in constraints.value.permitted_subtrees} == {
        "localhost",
        "127.0.0.1/32",
        "::1/128",
    }
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


def test_the_command_makes_it_even_while_the_settings_already_name_its_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make up TLS=1`` sets the variables and then makes the files: the command must not check them first."""
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_TLS_CERT_FILE", str(tmp_path / "server.pem"))
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_TLS_KEY_FILE", str(tmp_path / "server-key.pem"))
    assert main(["dev-certificate", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("made: trust ")
    assert load_settings().gateway.tls
