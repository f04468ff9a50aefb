"""A local certificate authority and a server certificate for development HTTPS (``make up TLS=1``; ADR 0023).

Contract of :func:`ensure_dev_certificate`:
- it writes, once, into one folder: ``ca.pem`` (the authority to trust: ``curl --cacert``, ``httpx verify=``),
  ``server.pem`` (the server certificate followed by the authority's), ``server-key.pem`` (its key, mode 0600);
  when all three are there it changes nothing, so clients that trust ``ca.pem`` keep trusting it;
- the server certificate names ``localhost``, ``127.0.0.1`` and ``::1`` (the addresses the system answers on);
- the authority can vouch for those names only (a critical name constraint), and its private key is never
  written: a ``ca.pem`` somebody trusted cannot be used to impersonate any other site, even by whoever reads
  the folder.
Not for production: there the certificate comes from the organisation's own authority.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")
VALID_DAYS = 365


@dataclass(frozen=True)
class DevCertificate:
    """The three files of a development certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def files_in(directory: Path) -> DevCertificate:
    return DevCertificate(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")


def ensure_dev_certificate(directory: Path) -> tuple[DevCertificate, bool]:
    """The certificate in ``directory``, made when any of its files is missing; and whether it was made now."""
    files = files_in(directory)
    if all(path.is_file() for path in (files.ca_file, files.cert_file, files.key_file)):
        return files, False
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = _issue()
    _write(files.key_file, key_pem, 0o600)
    _write(files.cert_file, cert_pem + ca_pem, 0o644)
    _write(files.ca_file, ca_pem, 0o644)
    return files, True


def _issue() -> tuple[bytes, bytes, bytes]:
    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EventLedger development CA")])
    permitted: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
    permitted += [x509.IPAddress(ipaddress.ip_network(address)) for address in SERVER_ADDRESSES]
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
    alternative += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_ADDRESSES]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(serialization.Encoding.PEM), server.public_bytes(serialization.Encoding.PEM), key_pem


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, content: bytes, mode: int) -> None:
    """Write through a new file created with ``mode`` (a key is never readable by others, not even briefly)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)
    partial.replace(path)
