"""The transport and browser settings (ADR 0023) refuse at start-up, naming the variable, what would otherwise fail
later or silently: half a TLS pair, a missing file, a certificate with another key, an origin a browser never sends,
``*`` in production."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventledger_gateway.devcert import ensure_dev_certificate
from eventledger_runtime.settings import GatewaySettings, SettingsError, load_settings
from eventledger_runtime.settings_doc import effective

CERT, KEY = "EVENTLEDGER_GATEWAY_TLS_CERT_FILE", "EVENTLEDGER_GATEWAY_TLS_KEY_FILE"
ORIGINS = "EVENTLEDGER_GATEWAY_CORS_ALLOW_ORIGINS"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EVENTLEDGER_"):
            monkeypatch.delenv(name)


def _refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    return str(refused.value)


def test_by_default_plain_http_and_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings().gateway
    assert (settings.tls, settings.cors_allow_origins) == (False, [])


def test_a_certificate_and_its_key_from_the_environment_turn_tls_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    monkeypatch.setenv(CERT, str(files.cert_file))
    monkeypatch.setenv(KEY, str(files.key_file))
    settings = load_settings().gateway
    assert settings.tls
    assert settings.tls_cert_file == files.cert_file


def test_half_a_pair_is_refused_naming_both_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    for given in ({CERT: str(files.cert_file)}, {KEY: str(files.key_file)}):
        monkeypatch.delenv(CERT, raising=False)
        monkeypatch.delenv(KEY, raising=False)
        message = _refusal(monkeypatch, **given)
        assert f"{CERT} and {KEY} go together" in message


def test_a_missing_file_is_refused_naming_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    message = _refusal(monkeypatch, **{CERT: str(files.cert_file), KEY: str(tmp_path / "nope.pem")})
    assert f"{KEY}: no such file" in message


def test_a_certificate_with_another_certificates_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    one, _ = ensure_dev_certificate(tmp_path / "one")
    two, _ = ensure_dev_certificate(tmp_path / "two")
    message = _refusal(monkeypatch, **{CERT: str(one.cert_file), KEY: str(two.key_file)})
    assert "are not a PEM certificate and its private key" in message
    assert CERT in message


def test_origins_methods_and_headers_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ORIGINS, "https://app.example.com, http://localhost:5173")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_CORS_ALLOW_METHODS", "GET")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_CORS_ALLOW_HEADERS", "Authorization")
    settings = load_settings().gateway
    assert settings.cors_allow_origins == ["https://app.example.com", "http://localhost:5173"]
    assert (settings.cors_allow_methods, settings.cors_allow_headers) == (["GET"], ["Authorization"])


@pytest.mark.parametrize(
    "origins",
    ["https://app.example.com/", "https://app.example.com/path", "app.example.com", "https://App.example.com", "*,x"],
)
def test_an_origin_a_browser_would_never_send_is_refused(monkeypatch: pytest.MonkeyPatch, origins: str) -> None:
    message = _refusal(monkeypatch, **{ORIGINS: origins})
    assert f"{ORIGINS}: " in message


def test_any_origin_is_refused_in_production_and_allowed_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GatewaySettings(cors_allow_origins=["*"]).cors_allow_origins == ["*"]
    listed = ["https://app.example.com"]  # the same settings with a listed origin start in production
    assert GatewaySettings(environment="production", jwt_algorithm="off", cors_allow_origins=listed)
    with pytest.raises(ValidationError, match=f"{ORIGINS}: refusing `\\*` in production"):
        GatewaySettings(environment="production", jwt_algorithm="off", cors_allow_origins=["*"])


def test_unknown_methods_and_wildcard_headers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "EVENTLEDGER_GATEWAY_CORS_ALLOW_METHODS: " in _refusal(
        monkeypatch, EVENTLEDGER_GATEWAY_CORS_ALLOW_METHODS="GET,TRACE"
    )
    monkeypatch.delenv("EVENTLEDGER_GATEWAY_CORS_ALLOW_METHODS")
    assert "EVENTLEDGER_GATEWAY_CORS_ALLOW_HEADERS: " in _refusal(
        monkeypatch, EVENTLEDGER_GATEWAY_CORS_ALLOW_HEADERS="*"
    )


def test_the_settings_command_prints_lists_as_their_variables_take_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ORIGINS, "https://a.example.com,https://b.example.com")
    printed = dict(
        line.split("=", 1) for line in effective(load_settings()).splitlines() if line.startswith("EVENTLEDGER_")
    )
    assert printed[ORIGINS] == "https://a.example.com,https://b.example.com"
    assert printed["EVENTLEDGER_GATEWAY_CORS_ALLOW_METHODS"] == "GET,POST"
