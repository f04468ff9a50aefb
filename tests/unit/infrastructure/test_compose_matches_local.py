"""docker-compose.yml cannot run here (no Docker engine), so this keeps it true to the local provisioning."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

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
