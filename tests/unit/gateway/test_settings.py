"""Settings: defaults, the EVENTLEDGER_GATEWAY_ prefix, and the refusals that keep a default secret out of prod."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from eventledger_runtime.settings import DEVELOPMENT_JWT_SECRET as DEVELOPMENT_SECRET
from eventledger_runtime.settings import GatewaySettings


def test_defaults_match_the_documented_ports() -> None:
    settings = GatewaySettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 18080)
    assert settings.command_url == "http://127.0.0.1:18081"
    assert settings.query_url == "http://127.0.0.1:18082"
    assert settings.environment == "development"
    assert settings.jwt_algorithm == "HS256"


def test_audit_goes_to_the_command_service_and_admin_to_the_query_service_unless_told_otherwise() -> None:
    settings = GatewaySettings(command_url="http://c:1", query_url="http://q:2")
    assert settings.upstream_url("audit") == "http://c:1"  # ADR 0009: audit is served from the event store
    assert settings.upstream_url("admin") == "http://q:2"
    moved = GatewaySettings(audit_url="http://audit:3", admin_url="http://ops:4")
    assert (moved.upstream_url("audit"), moved.upstream_url("admin")) == ("http://audit:3", "http://ops:4")


def test_variables_with_the_prefix_configure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_PORT", "19999")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND", "2.5")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_QUERY_URL", "http://127.0.0.1:1234")
    settings = GatewaySettings()
    assert (settings.port, settings.rate_limit_per_second, settings.query_url) == (19999, 2.5, "http://127.0.0.1:1234")


def test_production_refuses_development_tokens_and_says_what_to_set() -> None:
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(environment="production")
    message = str(refused.value)
    assert "refusing to start in production with EVENTLEDGER_GATEWAY_JWT_ALGORITHM=HS256" in message
    assert "POST /oauth/token" in message


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_production_refuses_every_hmac_algorithm_even_with_a_long_secret(
    monkeypatch: pytest.MonkeyPatch, algorithm: str
) -> None:
    monkeypatch.setenv("EVENTLEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_SECRET", "x" * 64)
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_ALGORITHM", algorithm)
    with pytest.raises(ValidationError, match="shared-secret tokens are for development"):
        GatewaySettings()


def test_production_starts_with_only_its_own_tokens() -> None:
    settings = GatewaySettings(environment="production", jwt_algorithm="off")
    assert settings.verification_key is None


def test_development_accepts_the_development_secret() -> None:
    assert GatewaySettings().verification_key == DEVELOPMENT_SECRET


def test_an_empty_secret_is_refused_even_in_development() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET is empty"):
        GatewaySettings(jwt_secret="")


def test_asymmetric_algorithms_need_a_public_key() -> None:
    with pytest.raises(ValidationError, match="needs a public key"):
        GatewaySettings(jwt_algorithm="RS256")


def test_an_unreadable_public_key_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE", str(tmp_path / "absent.pem"))
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY_FILE: cannot read"):
        GatewaySettings(jwt_algorithm="ES256")


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_limit_per_second", 0), ("rate_limit_burst", 0), ("upstream_timeout_seconds", 0), ("port", 70000)],
)
def test_nonsense_numbers_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        GatewaySettings.model_validate({field: value})


@pytest.mark.parametrize("url", ["https://command.internal", "command:18081", "ftp://x"])
def test_upstreams_are_plain_http_addresses(url: str) -> None:
    with pytest.raises(ValidationError, match="must start with http://"):
        GatewaySettings(command_url=url)


def test_a_trailing_slash_is_dropped() -> None:
    assert GatewaySettings(query_url="http://127.0.0.1:18082/").query_url == "http://127.0.0.1:18082"
