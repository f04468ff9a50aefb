from __future__ import annotations

from pathlib import Path

import pytest

from eventledger_infra.settings import PROJECT_ROOT, Settings


def test_defaults_point_every_client_at_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATE_DIR", "PG_PORT", "REDIS_PORT", "KAFKA_PORT", "ES_PORT", "HOST"):
        monkeypatch.delenv(f"EVENTLEDGER_{name}", raising=False)
    settings = Settings.from_env()
    assert settings.state_dir == PROJECT_ROOT / ".state"
    assert settings.postgres_dsn == "postgresql://eventledger:eventledger@127.0.0.1:15432/eventledger"
    assert settings.redis_url == "redis://127.0.0.1:16379/0"
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.elasticsearch_url == "http://127.0.0.1:19200"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVENTLEDGER_PG_PORT", "6543")
    monkeypatch.setenv("EVENTLEDGER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("EVENTLEDGER_KAFKA_PORT", "29092")
    settings = Settings.from_env()
    assert settings.pg_port == 6543
    assert settings.state_dir == tmp_path
    assert settings.kafka_bootstrap == "127.0.0.1:29092"


def test_a_port_that_is_not_a_number_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_REDIS_PORT", "six")
    with pytest.raises(ValueError, match="EVENTLEDGER_REDIS_PORT must be an integer, got 'six'"):
        Settings.from_env()
