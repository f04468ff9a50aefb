"""The CLI: development tokens that the gateway accepts, and refusals with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.support.gateway import authenticate_now

from eventledger_gateway.auth import TokenVerifier
from eventledger_gateway.cli import main
from eventledger_runtime.settings import GatewaySettings


def test_token_prints_a_token_the_gateway_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "writer", "--role", "reader", "--subject", "bob", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    principal = authenticate_now(TokenVerifier(GatewaySettings()), f"Bearer {token}")
    assert principal.subject == "bob"
    assert principal.roles == frozenset({"writer", "reader"})


def test_token_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTLEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_ALGORITHM", "off")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY", "k" * 40)
    monkeypatch.setenv("EVENTLEDGER_AUDIT_TREE_HEAD_KEY", "ab" * 32)
    monkeypatch.setenv("EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY", "q" * 40)
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD", "p" * 24)
    assert main(["token", "--role", "admin"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refusing to mint a token in production" in captured.err


def test_serve_refuses_the_development_secret_in_production_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTLEDGER_ENVIRONMENT", "production")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "invalid settings" in err
    assert "refusing to start in production with EVENTLEDGER_GATEWAY_JWT_ALGORITHM=HS256" in err
    assert "Traceback" not in err


def test_a_non_positive_ttl_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "reader", "--ttl", "0"]) == 2
    assert "--ttl" in capsys.readouterr().err


def test_the_module_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eventledger_gateway", "token", "--role", "auditor"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    principal = authenticate_now(TokenVerifier(GatewaySettings()), f"Bearer {done.stdout.strip()}")
    assert principal.roles == frozenset({"auditor"})


def test_an_unknown_role_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "root"])
    assert exited.value.code == 2
