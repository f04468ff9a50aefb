"""The one settings source for servers, services and tests: environment variables with sane defaults.

Every part of EventLedger reads its connection settings through :class:`Settings` (or through the same variable
names), so the local servers, the services and the test fixtures cannot disagree on a port or a credential.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parents[3]

_PREFIX: Final = "EVENTLEDGER_"


def _env(name: str, default: str) -> str:
    return os.environ.get(_PREFIX + name, default)


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{_PREFIX}{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Connection and provisioning settings. Build with :meth:`from_env`; every field has a documented variable."""

    home: Path = PROJECT_ROOT
    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    host: str = "127.0.0.1"
    # PostgreSQL (EVENTLEDGER_PG_*)
    pg_port: int = 15432
    pg_user: str = "eventledger"
    pg_password: str = "eventledger"  # noqa: S105 - local development default; production sets EVENTLEDGER_PG_PASSWORD
    pg_database: str = "eventledger"
    # Redis (EVENTLEDGER_REDIS_PORT)
    redis_port: int = 16379
    # Kafka (EVENTLEDGER_KAFKA_*)
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    kafka_java_home: Path = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    kafka_partitions: int = 6
    # Elasticsearch (EVENTLEDGER_ES_*)
    es_port: int = 19200
    es_version: str = "9.5.4"
    es_heap: str = "512m"
    es_java_home: Path = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    # The non-root system user that runs PostgreSQL and Elasticsearch when provisioning runs as root.
    service_user: str = "eventledger"

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("HOME", str(PROJECT_ROOT))).resolve()
        return cls(
            home=home,
            state_dir=Path(_env("STATE_DIR", str(home / ".state"))).resolve(),
            cache_dir=Path(_env("CACHE_DIR", str(home / ".cache"))).resolve(),
            host=_env("HOST", "127.0.0.1"),
            pg_port=_env_int("PG_PORT", 15432),
            pg_user=_env("PG_USER", "eventledger"),
            pg_password=_env("PG_PASSWORD", "eventledger"),
            pg_database=_env("PG_DATABASE", "eventledger"),
            redis_port=_env_int("REDIS_PORT", 16379),
            kafka_port=_env_int("KAFKA_PORT", 19092),
            kafka_controller_port=_env_int("KAFKA_CONTROLLER_PORT", 19093),
            kafka_version=_env("KAFKA_VERSION", "4.1.1"),
            kafka_heap=_env("KAFKA_HEAP", "512m"),
            kafka_java_home=Path(_env("KAFKA_JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64")),
            kafka_partitions=_env_int("KAFKA_PARTITIONS", 6),
            es_port=_env_int("ES_PORT", 19200),
            es_version=_env("ES_VERSION", "9.5.4"),
            es_heap=_env("ES_HEAP", "512m"),
            es_java_home=Path(_env("ES_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")),
            service_user=_env("SERVICE_USER", "eventledger"),
        )

    # Addresses in the forms the clients take.
    @property
    def postgres_dsn(self) -> str:
        return f"postgresql://{self.pg_user}:{self.pg_password}@{self.host}:{self.pg_port}/{self.pg_database}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def elasticsearch_url(self) -> str:
        return f"http://{self.host}:{self.es_port}"
