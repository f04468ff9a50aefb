"""The provisioning tool's reader of the server settings, with the standard library only.

The provisioning tool runs before the virtualenv exists, so it cannot import the services' typed settings
(``eventledger_runtime.settings``, pydantic). That model is the single source of the names and defaults: this reader
declares the subset the servers need in :data:`VARIABLES`, and ``tests/unit/runtime/test_settings_model.py`` fails
when a name or a default here differs from the model's (ADR 0013).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parents[3]

_PREFIX: Final = "EVENTLEDGER_"

VARIABLES: Final[dict[str, str]] = {
    "state_dir": "EVENTLEDGER_STATE_DIR",
    "cache_dir": "EVENTLEDGER_CACHE_DIR",
    "host": "EVENTLEDGER_HOST",
    "pg_port": "EVENTLEDGER_PG_PORT",
    "pg_user": "EVENTLEDGER_PG_USER",
    "pg_password": "EVENTLEDGER_PG_PASSWORD",
    "pg_database": "EVENTLEDGER_PG_DATABASE",
    "redis_port": "EVENTLEDGER_REDIS_PORT",
    "kafka_port": "EVENTLEDGER_KAFKA_PORT",
    "kafka_heap": "EVENTLEDGER_KAFKA_HEAP",
    "kafka_partitions": "EVENTLEDGER_KAFKA_PARTITIONS",
    "es_port": "EVENTLEDGER_ES_PORT",
    "es_heap": "EVENTLEDGER_ES_HEAP",
    "registry_port": "EVENTLEDGER_REGISTRY_PORT",
    "registry_heap": "EVENTLEDGER_REGISTRY_HEAP",
}
"""The variable of each field of :class:`Settings` that one sets; the other fields are constants (pinned versions,
the JDKs provisioning installs) that code and tests may still pass to the constructor."""


@dataclass(frozen=True)
class Settings:
    """Connection and provisioning settings. Build with :meth:`from_env`, which reads the fields in VARIABLES."""

    state_dir: Path = PROJECT_ROOT / ".state"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    host: str = "127.0.0.1"
    pg_port: int = 15432
    pg_user: str = "eventledger"
    pg_password: str = "eventledger"  # noqa: S105 - local development default; refused in production by the services
    pg_database: str = "eventledger"
    redis_port: int = 16379
    kafka_port: int = 19092
    kafka_controller_port: int | None = None  # None: the port after kafka_port
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    kafka_java_home: Path | None = None  # None: the oldest JDK 17+ under /usr/lib/jvm (java_home)
    kafka_partitions: int = 6
    es_port: int = 19200
    es_version: str = "9.5.4"
    es_heap: str = "512m"
    es_java_home: Path | None = None  # None: the oldest JDK 21+ under /usr/lib/jvm (java_home)
    registry_port: int = 18181
    registry_version: str = "2.4.2.Final"
    registry_heap: str = "128m"
    registry_java_home: Path | None = None  # None: the oldest JDK 17+ under /usr/lib/jvm (java_home)
    # The non-root system user that runs PostgreSQL and Elasticsearch when provisioning runs as root.
    service_user: str = "eventledger"

    @classmethod
    def from_env(cls) -> Settings:
        values: dict[str, object] = {}
        for spec in fields(cls):
            variable = VARIABLES.get(spec.name)
            if variable is None:
                continue
            raw = _secret_file(variable) if spec.name == "pg_password" else os.environ.get(variable)
            if raw is None:
                continue
            if spec.type in {"int", int}:
                try:
                    values[spec.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{variable} must be an integer, got {raw!r}") from None
            elif spec.type in {"Path", Path}:
                path = Path(raw)
                values[spec.name] = path.resolve() if spec.name.endswith("_dir") else path
            else:
                values[spec.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    @property
    def controller_port(self) -> int:
        """The KRaft controller's port."""
        return self.kafka_controller_port or self.kafka_port + 1

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

    @property
    def registry_url(self) -> str:
        """The schema registry's Confluent-compatible API (what clients, kcat and the relay are given)."""
        return f"http://{self.host}:{self.registry_port}/apis/ccompat/v7"


JVM_DIR: Final = Path("/usr/lib/jvm")


def java_home(given: Path | None, minimum: int, *, jvm_dir: Path = JVM_DIR) -> Path | None:
    """``given``, else the installed JDK of the lowest major version at least ``minimum`` (the one closest to what
    the server is tested with), read from each JDK's ``release`` file; None when there is none."""
    if given is not None:
        return given
    found: list[tuple[int, str, Path]] = []
    for release in sorted(jvm_dir.glob("*/release")) if jvm_dir.is_dir() else []:
        home = release.parent
        if home.is_symlink() or not (home / "bin" / "java").exists():
            continue
        version = _java_major(release.read_text(errors="replace"))
        if version is not None and version >= minimum:
            found.append((version, home.name, home))
    return min(found)[2] if found else None


def _java_major(release: str) -> int | None:
    for line in release.splitlines():
        if line.startswith("JAVA_VERSION="):
            major = line.split("=", 1)[1].strip().strip('"').split(".")[0]
            return int(major) if major.isdigit() else None
    return None


def _secret_file(variable: str) -> str | None:
    """``<VARIABLE>_FILE`` names a file holding the value (container secrets), as the services' settings allow."""
    path = os.environ.get(variable + "_FILE")
    if path:
        return Path(path).read_text().rstrip("\r\n")
    return os.environ.get(variable)
