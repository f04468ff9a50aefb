"""RS256 and ES256: tokens signed with a private key, verified with the public key from a PEM file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tests.support.gateway import authenticate_now

from eventledger_gateway.auth import TokenVerifier
from eventledger_gateway.cli import main
from eventledger_gateway.problems import Problem
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings


def _key_pair(algorithm: str) -> tuple[str, str]:
    private = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa.generate_private_key(65537, 2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_token_signed_with_the_private_key_is_verified_with_the_public_key_file(
    tmp_path: Path, algorithm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_pem, public_pem = _key_pair(algorithm)
    key_file = tmp_path / "public.pem"
    key_file.write_text(public_pem)
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE", str(key_file))
    settings = GatewaySettings(jwt_algorithm=algorithm, environment="production")
    token = mint_token(settings, ["auditor"], subject="carol", private_key=private_pem)
    principal = authenticate_now(TokenVerifier(settings), f"Bearer {token}")
    assert (principal.subject, principal.roles) == ("carol", frozenset({"auditor"}))


def test_a_token_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    _, public_pem = _key_pair("RS256")
    stranger_private, _ = _key_pair("RS256")
    settings = GatewaySettings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    token = mint_token(settings, ["reader"], private_key=stranger_private)
    with pytest.raises(Problem) as refused:
        authenticate_now(TokenVerifier(settings), f"Bearer {token}")
    assert refused.value.code == "invalid_token"


def test_an_hmac_token_made_with_the_public_key_as_secret_is_refused() -> None:
    """The algorithm-confusion attack: only the configured algorithm is accepted."""
    import jwt

    _, public_pem = _key_pair("RS256")
    settings = GatewaySettings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    forged = jwt.encode({"sub": "mallory", "roles": ["admin"], "exp": 2**31}, b"x" * 32, algorithm="HS256")
    with pytest.raises(Problem):
        authenticate_now(TokenVerifier(settings), f"Bearer {forged}")


def test_the_cli_mints_rs256_tokens_with_a_private_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private_pem, public_pem = _key_pair("RS256")
    (tmp_path / "private.pem").write_text(private_pem)
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_ALGORITHM", "RS256")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY", public_pem)
    assert main(["token", "--role", "reader"]) == 2
    assert "private key" in capsys.readouterr().err
    assert main(["token", "--role", "reader", "--private-key-file", str(tmp_path / "private.pem")]) == 0
    token = capsys.readouterr().out.strip()
    settings = GatewaySettings()
    assert authenticate_now(TokenVerifier(settings), f"Bearer {token}").roles == frozenset({"reader"})
