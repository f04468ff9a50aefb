"""The settings tree: one name per concept, readable refusals, secrets from files and masked, production refusing
default secrets, the namespace's derived names, and the other readers of the same variables kept in step with it:
the provisioning tool's stdlib reader, the supervisor's ports and the README's tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eventledger_infra import system
from eventledger_infra.settings import VARIABLES, java_home
from eventledger_infra.settings import Settings as ProvisioningSettings
from eventledger_runtime.__main__ import main
from eventledger_runtime.settings import Namespace, SettingsError, load_settings
from eventledger_runtime.settings_doc import markdown, readme_block, values, variables

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("EVENTLEDGER_", "OTEL_")):
            monkeypatch.delenv(name)


STANDARD_VARIABLES = {"OTEL_EXPORTER_OTLP_ENDPOINT"}
"""Variables of a standard other tools set too (ADR 0032), under their standard names."""


def test_every_variable_is_declared_once() -> None:
    names = variables()
    assert len(names) == len(set(names))
    assert all(name.startswith("EVENTLEDGER_") or name in STANDARD_VARIABLES for name in names)


def test_the_provisioning_reader_uses_the_models_names_and_defaults() -> None:
    model = values(load_settings())
    provisioning = ProvisioningSettings.from_env()
    for field, variable in VARIABLES.items():
        assert variable in model, f"{variable} is read by the provisioning tool but not declared in the model"
        assert getattr(provisioning, field) == model[variable], variable


def test_the_provisioning_reader_reads_what_the_model_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given = {
        "EVENTLEDGER_STATE_DIR": str(tmp_path / "state"),
        "EVENTLEDGER_CACHE_DIR": str(tmp_path / "cache"),
        "EVENTLEDGER_HOST": "10.0.0.9",
        "EVENTLEDGER_PG_PORT": "5433",
        "EVENTLEDGER_PG_USER": "ledger",
        "EVENTLEDGER_PG_DATABASE": "books",
        "EVENTLEDGER_REDIS_PORT": "6380",
        "EVENTLEDGER_KAFKA_PORT": "9093",
        "EVENTLEDGER_KAFKA_HEAP": "1g",
        "EVENTLEDGER_KAFKA_PARTITIONS": "3",
        "EVENTLEDGER_ES_PORT": "9201",
        "EVENTLEDGER_ES_HEAP": "2g",
        "EVENTLEDGER_REGISTRY_PORT": "8181",
        "EVENTLEDGER_REGISTRY_HEAP": "256m",
    }
    assert set(given) | {"EVENTLEDGER_PG_PASSWORD"} == set(VARIABLES.values())
    for variable, value in given.items():
        monkeypatch.setenv(variable, value)
    secret = tmp_path / "pg-password"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD_FILE", str(secret))
    model, provisioning = load_settings(), ProvisioningSettings.from_env()
    assert (provisioning.postgres_dsn, provisioning.redis_url) == (model.postgres_dsn, model.redis_url)
    assert (provisioning.kafka_bootstrap, provisioning.elasticsearch_url) == (
        model.kafka_bootstrap,
        model.elasticsearch_url,
    )
    assert provisioning.registry_url == model.registry_url
    model_values = values(model)
    for field, variable in VARIABLES.items():
        assert getattr(provisioning, field) == model_values[variable], variable
    assert provisioning.controller_port == 9094  # the port after the broker's


def test_provisioning_finds_the_oldest_jdk_new_enough(tmp_path: Path) -> None:
    for name, version in (("jdk-11", "11.0.2"), ("jdk-17", "17.0.15"), ("temurin-25", "25.0.1"), ("broken", "x")):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "java").touch()
        (tmp_path / name / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    (tmp_path / "jdk-17-alias").symlink_to(tmp_path / "jdk-17")
    assert java_home(None, 17, jvm_dir=tmp_path) == tmp_path / "jdk-17"
    assert java_home(None, 21, jvm_dir=tmp_path) == tmp_path / "temurin-25"
    assert java_home(None, 26, jvm_dir=tmp_path) is None
    assert java_home(Path("/opt/given"), 17, jvm_dir=tmp_path) == Path("/opt/given")


def test_the_supervisor_starts_the_services_on_the_models_ports() -> None:
    """HAProxy holds the ports the services' settings name (clients and the gateway's upstream URLs use them); the
    instances behind it listen one step up each, the workers' first instance on its own port."""
    ports = {spec.name: spec.port for spec in system.services(replicas=2)}
    settings = load_settings()
    step = system.INSTANCE_PORT_STEP
    assert system.public_ports() == {
        "gateway": settings.gateway.port,
        "command": settings.command.port,
        "query": settings.query.port,
    }
    assert (ports["command"], ports["command-2"]) == (settings.command.port + step, settings.command.port + 2 * step)
    assert ports["query"] == settings.query.port + step
    assert ports["gateway"] == settings.gateway.port + step
    assert (ports["relay"], ports["relay-2"]) == (settings.relay.ops_port, settings.relay.ops_port + step)
    assert ports["stream-windows"] == settings.streaming.ops_port
    gateway = next(spec for spec in system.services() if spec.name == "gateway")
    assert gateway.env["EVENTLEDGER_GATEWAY_COMMAND_URL"] == settings.gateway.command_url
    assert gateway.env["EVENTLEDGER_GATEWAY_QUERY_URL"] == settings.gateway.query_url


def test_the_readme_tables_are_generated_from_the_model() -> None:
    assert readme_block(README.read_text()) == markdown(), (
        "README.md's settings tables differ from the model: run "
        "`.venv/bin/python -m eventledger_runtime settings --write-readme README.md`"
    )


def test_the_default_namespace_keeps_the_plain_names() -> None:
    names = load_settings().names
    assert names.topic("eventledger.accounts.v1") == "eventledger.accounts.v1"
    assert (names.redis_base, names.index_prefix) == ("el", "eventledger-")
    settings = load_settings()
    assert settings.projections.group_id("postgres") == "eventledger-projection-postgres"
    assert settings.streaming.app_id == "eventledger-transfer-windows"
    assert settings.gateway.rate_limit_key_prefix == "eventledger:gateway:ratelimit:"


def test_one_namespace_names_everything_a_deployment_owns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_NAMESPACE", "staging-2")
    settings = load_settings()
    assert settings.names.topic("eventledger.accounts.v1") == "staging-2.eventledger.accounts.v1"
    assert settings.projections.group_id("redis") == "staging-2.eventledger-projection-redis"
    assert settings.streaming.app_id == "staging-2.eventledger-transfer-windows"
    assert settings.query.redis_base == settings.projections.names.redis_base == "staging-2:el"
    assert settings.query.elasticsearch_prefix == settings.projections.names.index_prefix == "staging-2-eventledger-"
    assert settings.gateway.rate_limit_key_prefix == "staging-2:eventledger:gateway:ratelimit:"


@pytest.mark.parametrize("bad", ["Upper", "-lead", "dots.no", "under_score"])
def test_a_namespace_that_cannot_name_everything_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        Namespace(bad)


def test_a_bad_value_is_refused_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_PG_PORT", "five")
    monkeypatch.setenv("EVENTLEDGER_NAMESPACE", "Not_Valid")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "EVENTLEDGER_PG_PORT: Input should be a valid integer" in message
    assert "(got 'five')" in message
    assert "EVENTLEDGER_NAMESPACE: must be lower-case" in message


def test_a_shared_value_is_read_from_its_own_variable_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_BIND_HOST", "0.0.0.0")
    monkeypatch.setenv("EVENTLEDGER_NAMESPACE", "shared")
    monkeypatch.setenv("EVENTLEDGER_QUERY_NAMESPACE", "private")  # the section's prefix + the field: never read
    settings = load_settings()
    assert settings.command.host == settings.query.host == settings.gateway.host == "0.0.0.0"
    assert settings.query.namespace == settings.projections.namespace == "shared"


def test_a_secret_comes_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("j" * 40 + "\n")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_SECRET_FILE", str(tmp_path / "jwt"))
    assert load_settings().gateway.jwt_secret.get_secret_value() == "j" * 40


def test_a_secret_given_twice_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("secret")
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD", "other")
    with pytest.raises(SettingsError, match="set EVENTLEDGER_PG_PASSWORD or EVENTLEDGER_PG_PASSWORD_FILE, not both"):
        load_settings()


def test_production_refuses_every_default_or_short_secret_naming_it_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTLEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_JWT_ALGORITHM", "off")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "EVENTLEDGER_PG_PASSWORD: refusing to start in production with the default" in str(refused.value)
    assert "EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY: refusing to start in production with the default" in str(
        refused.value
    )
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD", "short-pw-1234")
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY", "k" * 31)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "EVENTLEDGER_PG_PASSWORD: refusing to start in production with a secret under 16 bytes" in message
    assert "EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY: refusing to start in production with a secret under 32" in message
    assert "short-pw-1234" not in message
    assert "k" * 31 not in message
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD", "p" * 16)
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY", "k" * 32)
    with pytest.raises(SettingsError, match="EVENTLEDGER_AUDIT_TREE_HEAD_KEY: refusing to start in production"):
        load_settings()
    monkeypatch.setenv("EVENTLEDGER_AUDIT_TREE_HEAD_KEY", "ab" * 32)
    with pytest.raises(SettingsError, match="EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY: refusing to start in production"):
        load_settings()
    monkeypatch.setenv("EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY", "q" * 31)
    with pytest.raises(SettingsError, match=r"EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY: .* under 32 bytes"):
        load_settings()
    monkeypatch.setenv("EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY", "q" * 32)
    assert load_settings().deployment.environment == "production"


def test_the_settings_command_prints_the_effective_settings_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTLEDGER_PG_PASSWORD", "hunter2-hunter2")
    monkeypatch.setenv("EVENTLEDGER_RELAY_BATCH_SIZE", "77")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "EVENTLEDGER_RELAY_BATCH_SIZE=77\n" in out
    assert "EVENTLEDGER_PG_PASSWORD=**********\n" in out
    assert "hunter2" not in out
    monkeypatch.setenv("EVENTLEDGER_RELAY_BATCH_SIZE", "many")
    assert main(["settings"]) == 2
    assert "EVENTLEDGER_RELAY_BATCH_SIZE" in capsys.readouterr().err


def test_a_variable_that_no_longer_exists_is_refused_with_its_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLEDGER_GATEWAY_ENVIRONMENT", "production")
    with pytest.raises(
        SettingsError, match="EVENTLEDGER_GATEWAY_ENVIRONMENT no longer exists; use EVENTLEDGER_ENVIRONMENT"
    ):
        load_settings()
