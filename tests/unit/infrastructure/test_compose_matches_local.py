"""docker-compose.yml is not run here (no Docker engine, no registry for the servers' images), so this keeps it true to
the local provisioning and the supervisor, and valid by Debian's docker-compose."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eventledger_infra import compose as compose_module
from eventledger_infra import images, loadbalancer, system
from eventledger_infra.process import ProvisioningError
from eventledger_infra.services.kafka import KafkaServer
from eventledger_infra.services.postgres import SERVER_OPTIONS
from eventledger_infra.settings import PROJECT_ROOT, Settings

INFRA_SERVICES = ("postgres", "redis", "kafka", "elasticsearch")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


def _host_port(service: dict[str, Any]) -> int:
    (mapping,) = service["ports"]
    host, published, _container = str(mapping).split(":")
    assert host == "127.0.0.1", "servers publish on loopback only"
    return int(published)


def test_every_server_has_a_healthcheck_and_a_named_volume(compose: dict[str, Any]) -> None:
    for name in INFRA_SERVICES:
        service = compose["services"][name]
        assert service["healthcheck"]["test"], name
        (volume,) = service["volumes"]
        assert volume.split(":")[0] in compose["volumes"], name


def test_published_ports_are_the_local_ports(compose: dict[str, Any], settings: Settings) -> None:
    services = compose["services"]
    assert _host_port(services["postgres"]) == settings.pg_port
    assert _host_port(services["redis"]) == settings.redis_port
    assert _host_port(services["kafka"]) == settings.kafka_port
    assert _host_port(services["elasticsearch"]) == settings.es_port


def test_versions_and_credentials_match(compose: dict[str, Any], settings: Settings) -> None:
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["postgres"]["environment"] == {
        "POSTGRES_USER": settings.pg_user,
        "POSTGRES_PASSWORD": settings.pg_password,
        "POSTGRES_DB": settings.pg_database,
    }
    assert services["kafka"]["image"] == f"apache/kafka:{settings.kafka_version}"
    assert services["elasticsearch"]["image"] == f"elasticsearch:{settings.es_version}"
    heap = f"-Xms{settings.es_heap} -Xmx{settings.es_heap}"
    assert services["elasticsearch"]["environment"]["ES_JAVA_OPTS"] == heap
    assert services["kafka"]["environment"]["KAFKA_HEAP_OPTS"] == f"-Xms{settings.kafka_heap} -Xmx{settings.kafka_heap}"


def test_postgres_tuning_matches(compose: dict[str, Any]) -> None:
    command = compose["services"]["postgres"]["command"]
    options = dict(arg.split("=", 1) for arg in command if "=" in arg)
    for key, value in options.items():
        assert SERVER_OPTIONS[key] == value, key


def test_kafka_broker_settings_match(compose: dict[str, Any], settings: Settings) -> None:
    environment = compose["services"]["kafka"]["environment"]
    local = dict(line.split("=", 1) for line in KafkaServer(settings)._properties().splitlines() if "=" in line)
    shared_keys = [
        "process.roles",
        "node.id",
        "num.partitions",
        "offsets.topic.replication.factor",
        "offsets.topic.num.partitions",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
        "group.initial.rebalance.delay.ms",
        "auto.create.topics.enable",
        "log.retention.hours",
    ]
    for key in shared_keys:
        variable = "KAFKA_" + key.upper().replace(".", "_")
        assert environment[variable] == local[key], key


def test_elasticsearch_settings_match(compose: dict[str, Any]) -> None:
    environment = compose["services"]["elasticsearch"]["environment"]
    from eventledger_infra.services.elasticsearch import CONFIG

    local = dict(
        (line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
        for line in CONFIG.splitlines()
        if ":" in line and not line.startswith("#")
    )
    for key in (
        "discovery.type",
        "cluster.name",
        "xpack.security.enabled",
        "cluster.routing.allocation.disk.threshold_enabled",
        "action.destructive_requires_name",
    ):
        assert str(environment[key]) == local[key], key


# ---------------------------------------------------------------- the EventLedger services and HAProxy (ADR 0030)


@pytest.fixture(scope="module")
def supervised() -> Iterator[list[system.ServiceSpec]]:
    """The supervisor's instances at the compose file's replica count, with the default settings (no overrides)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("EVENTLEDGER_")]:
            patch.delenv(name)
        yield system.services(compose_module.REPLICAS)


def test_every_supervised_instance_runs_with_the_supervisors_command_and_variables(
    compose: dict[str, Any], supervised: list[system.ServiceSpec]
) -> None:
    services = compose["services"]
    for spec in supervised:
        service = services[spec.name]
        assert service["image"] == images.reference(), spec.name
        assert service["command"] == [spec.service], spec.name
        assert system.service_commands()[spec.service].argv == spec.argv  # what the image's entry point runs
        assert {k: str(v) for k, v in service["environment"].items()} == spec.env, spec.name
        assert service["network_mode"] == "host", spec.name  # the supervisor's loopback, its ports unchanged
        assert "--health" in service["healthcheck"]["test"], spec.name
        assert service["stop_grace_period"] == f"{system.STOP_TIMEOUT_SECONDS:.0f}s", spec.name
    expected = {spec.name for spec in supervised} | set(INFRA_SERVICES) | {system.LOAD_BALANCER}
    assert set(services) == expected


def test_every_dependency_waits_for_a_healthy_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    assert set(services["command"]["depends_on"]) == {"postgres"}
    assert {"command", "query"} <= set(services["gateway"]["depends_on"])


def test_the_load_balancer_runs_as_the_supervisor_runs_it_with_the_generated_configuration(
    compose: dict[str, Any], supervised: list[system.ServiceSpec]
) -> None:
    service = compose["services"][system.LOAD_BALANCER]
    local = system.load_balancer_spec(Settings(), "haproxy")
    assert service["command"][:3] == list(local.argv[:3])  # haproxy -W -db
    assert service["command"] == list(compose_module.HAPROXY_COMMAND)
    assert service["stop_signal"] == "SIGUSR1"
    assert service["network_mode"] == "host"
    (volume,) = service["volumes"]
    source, target, _mode = volume.split(":")
    assert (PROJECT_ROOT / source).resolve() == compose_module.COMPOSE_DIR / "haproxy"
    assert target == str(compose_module.HAPROXY_DIR)
    assert str(system.load_balancer_ops_port()) in service["healthcheck"]["test"][-1]
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("EVENTLEDGER_")]:
            patch.delenv(name)
        expected = compose_module.load_balancer_files()
    for relative, text in expected.items():
        path = compose_module.COMPOSE_DIR / relative
        assert path.read_bytes() == text.encode(), f"{path} is stale: run `python -m eventledger_infra.compose`"
    written = {
        str(p.relative_to(compose_module.COMPOSE_DIR)) for p in compose_module.COMPOSE_DIR.rglob("*") if p.is_file()
    }
    assert written == set(expected)


def test_the_compose_file_is_valid_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    compose_module.validate(PROJECT_ROOT / "docker-compose.yml")
    broken = (PROJECT_ROOT / "docker-compose.yml").read_text().replace("condition: service_healthy", "condition: ok", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    with pytest.raises(ProvisioningError, match="condition"):
        compose_module.validate(tmp_path / "docker-compose.yml")


def test_haproxy_accepts_the_compose_configuration(tmp_path: Path) -> None:
    """``haproxy -c`` on the committed file, its container paths pointed at the committed error pages."""
    committed = (compose_module.COMPOSE_DIR / "haproxy" / "haproxy.cfg").read_text()
    config = tmp_path / "haproxy.cfg"
    config.write_text(committed.replace(str(compose_module.HAPROXY_DIR), str(compose_module.COMPOSE_DIR / "haproxy")))
    loadbalancer.check(loadbalancer.ensure_installed(), config)
