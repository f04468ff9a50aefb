"""The one typed settings tree of EventLedger: every environment variable any service reads is declared here once.

Contract:
- :func:`load_settings` builds the whole tree from the environment and either returns it valid or raises
  :class:`SettingsError`, whose message names each offending variable (``EVENTLEDGER_PG_PORT: ...``).
- Each section (:class:`PostgresSettings`, :class:`GatewaySettings`, ...) is a pydantic-settings class with its own
  ``EVENTLEDGER_<SECTION>_`` prefix, so a process may build only the section it needs; the few values every section
  shares (the environment, the namespace, the servers' host, the address services listen on) are declared once as
  annotated types below and read from one variable each.
- Every secret (:class:`~pydantic.SecretStr`) may instead be read from a file named by ``<VARIABLE>_FILE``, as
  container secrets are mounted. Setting both is an error.
- In the ``production`` environment every secret still at its default is refused, and so is a secret shorter than
  its field's ``min_production_bytes`` (the database password, the key-encryption key).
- One **namespace** (``EVENTLEDGER_NAMESPACE``) names everything a deployment owns on the shared servers: topic and
  consumer-group names, Redis keys, Elasticsearch indices (:class:`Namespace`). The default, empty, keeps today's
  names (``eventledger.accounts.v2``, ``el:...``, ``eventledger-...``).
- Fields marked :func:`fixed` are not read from the environment: they are constants that tests (and the code that
  wires a process) may still pass to the constructor.

The provisioning tool reads the server settings with the standard library (``eventledger_infra.settings``) under the
same names and defaults; ``tests/unit/runtime/test_settings_model.py`` proves it (ADR 0013).
"""

from __future__ import annotations

import importlib.util
import os
import re
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from eventledger_runtime.personal.port import KeyEncryptionKeys, derive_kek

PROJECT_ROOT = Path(__file__).resolve().parents[4]
PREFIX = "EVENTLEDGER_"

DEVELOPMENT_PG_PASSWORD = "eventledger"  # noqa: S105 - refused in production
DEVELOPMENT_JWT_SECRET = "eventledger-development-secret-do-not-use-in-production"  # noqa: S105 - refused in production
DEVELOPMENT_KEY_ENCRYPTION_KEY = "eventledger-development-key-encryption-key-not-for-production"
DEVELOPMENT_PERSONAL_DATA_KEK = "eventledger-development-personal-data-key-encryption-key"
DEVELOPMENT_TREE_HEAD_KEY = "6576656e746c65646765722d646576656c6f706d656e742d747265652d6b6579"
MIN_PRODUCTION_SECRET_BYTES = "min_production_bytes"  # noqa: S105 - a field marker's name
"""The ``json_schema_extra`` key of a secret's shortest length in production (bytes of UTF-8)."""
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RELAY_CHECKPOINT_NAME = "kafka-relay"
"""The relay's row in ``log_checkpoints``; the projectors read it to know how far the log was published."""

_NAMESPACE = re.compile(r"^([a-z0-9][a-z0-9-]*)?$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


_REPLACED_BY_NAMESPACE = "EVENTLEDGER_NAMESPACE, from which it derives"
_WHERE_DATA_LIVES = "no variable: the read model schema is `read_model`, a constant (unset it)"
REMOVED_VARIABLES: dict[str, str] = {
    "EVENTLEDGER_HOME": "EVENTLEDGER_STATE_DIR and EVENTLEDGER_CACHE_DIR",
    "EVENTLEDGER_GATEWAY_ENVIRONMENT": "EVENTLEDGER_ENVIRONMENT",
    "EVENTLEDGER_COMMAND_HOST": "EVENTLEDGER_BIND_HOST",
    "EVENTLEDGER_QUERY_HOST": "EVENTLEDGER_BIND_HOST",
    "EVENTLEDGER_GATEWAY_HOST": "EVENTLEDGER_BIND_HOST",
    "EVENTLEDGER_RELAY_TOPIC_NAMESPACE": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_PROJECTION_TOPIC_NAMESPACE": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_STREAMING_TOPIC_NAMESPACE": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_PROJECTION_GROUP_ID": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_STREAMING_APP_ID": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_PROJECTION_REDIS_PREFIX": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_STREAMING_REDIS_PREFIX": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_QUERY_REDIS_BASE": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_ES_INDEX_PREFIX": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_QUERY_ELASTICSEARCH_PREFIX": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_GATEWAY_RATE_LIMIT_KEY_PREFIX": _REPLACED_BY_NAMESPACE,
    "EVENTLEDGER_GATEWAY_REDIS_URL": "EVENTLEDGER_HOST and EVENTLEDGER_REDIS_PORT",
    "EVENTLEDGER_QUERY_POSTGRES_SCHEMA": _WHERE_DATA_LIVES,
    "EVENTLEDGER_PROJECTION_POSTGRES_SCHEMA": _WHERE_DATA_LIVES,
    "EVENTLEDGER_PG_READ_MODEL_SCHEMA": _WHERE_DATA_LIVES,
    "EVENTLEDGER_KAFKA_CONTROLLER_PORT": "EVENTLEDGER_KAFKA_PORT (the controller listens on the next port)",
    "EVENTLEDGER_PROJECTION_SESSION_TIMEOUT_MS": "EVENTLEDGER_KAFKA_SESSION_TIMEOUT_SECONDS",
    "EVENTLEDGER_STREAMING_SESSION_TIMEOUT_SECONDS": "EVENTLEDGER_KAFKA_SESSION_TIMEOUT_SECONDS",
    "EVENTLEDGER_PROJECTION_EVENT_STORE_DSN": "EVENTLEDGER_PG_* (the read models and the event store share a database)",
    "EVENTLEDGER_STREAMING_DATA_DIR": "EVENTLEDGER_STATE_DIR (faust's folder is its `streaming/`)",
}
"""Variables that no longer exist, and what replaced them: a process refuses to start while one is set, so an old
deployment's ``EVENTLEDGER_GATEWAY_ENVIRONMENT=production`` cannot silently become ``development`` (ADR 0013).
Tuning knobs that became constants are not listed: setting one changes nothing, and refusing it would only stop an
upgrade."""


class SettingsError(ValueError):
    """Settings that cannot run: the message has one line per problem, each naming its variable."""


def _shared(variable: str, default: Any, description: str, **kwargs: Any) -> Any:
    """A value several sections read from one variable (no section prefix)."""
    return Field(
        default=default,
        validation_alias=AliasChoices(PREFIX + variable),
        description=description,
        json_schema_extra={"shared": PREFIX + variable},
        **kwargs,
    )


def fixed(default: Any, description: str = "", **kwargs: Any) -> Any:
    """A field that no variable sets: a constant that the wiring code and tests may still pass in."""
    return Field(default=default, description=description, json_schema_extra={"fixed": True}, **kwargs)


def _check_namespace(value: str) -> str:
    if not _NAMESPACE.match(value):
        raise ValueError("must be lower-case letters, digits and '-', not starting with '-'")
    return value


Environment = Annotated[
    Literal["development", "production"],
    _shared(
        "ENVIRONMENT",
        "development",
        "`production` refuses every secret left at its default (database password, key-encryption key) or shorter "
        "than its minimum, refuses HMAC (development) tokens, and the gateway's `token` command refuses to mint",
    ),
]
NamespaceName = Annotated[
    str,
    AfterValidator(_check_namespace),
    _shared(
        "NAMESPACE",
        "",
        "names what one deployment owns on shared servers (lower-case letters, digits, `-`): with `ns`, topics and "
        "consumer groups are `ns.<name>`, Redis keys `ns:el:…`, Elasticsearch indices `ns-eventledger-…`; empty "
        "keeps the plain names",
    ),
]
SessionTimeout = Annotated[
    float,
    Field(ge=6, le=300),
    _shared(
        "KAFKA_SESSION_TIMEOUT_SECONDS",
        10.0,
        "how long a consumer group (projectors, stream job) waits for a silent member before its partitions move "
        "to the others",
    ),
]
ServerHost = Annotated[str, _shared("HOST", "127.0.0.1", "the address of the servers")]
BindHost = Annotated[str, _shared("BIND_HOST", "127.0.0.1", "the address every service and ops endpoint listens on")]


@dataclass(frozen=True)
class Namespace:
    """The names a deployment's namespace derives. The empty namespace gives the names EventLedger always used."""

    value: str = ""

    def __post_init__(self) -> None:
        _check_namespace(self.value)

    @property
    def topic_prefix(self) -> str:
        """Prepended to every topic and consumer-group name."""
        return f"{self.value}." if self.value else ""

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def group(self, name: str) -> str:
        return self.topic_prefix + name

    @property
    def redis_prefix(self) -> str:
        """Prepended to every Redis key."""
        return f"{self.value}:" if self.value else ""

    @property
    def redis_base(self) -> str:
        """The read models' key base (``el``)."""
        return self.redis_prefix + "el"

    @property
    def index_prefix(self) -> str:
        """Prepended to every Elasticsearch index and alias (``eventledger-``)."""
        return f"{self.value}-eventledger-" if self.value else "eventledger-"


class _EnvWithoutFixed(EnvSettingsSource):
    """The environment, minus the fields marked :func:`fixed`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        extra = _extra(field)
        if extra.get("fixed"):
            return None, field_name, False
        if extra.get("shared"):  # only its own variable, never <section prefix><FIELD>
            variable = str(extra["shared"])
            return self.env_vars.get(variable if self.case_sensitive else variable.lower()), field_name, False
        return super().get_field_value(field, field_name)


def _extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


class Section(BaseSettings):
    """A settings section: variables ``<env_prefix><FIELD>``; ``<VARIABLE>_FILE`` for secrets."""

    # extra="forbid": a misspelt keyword (in the wiring or a test) fails instead of being ignored; the environment
    # is read only for declared fields, so unknown variables never reach it.
    model_config = SettingsConfigDict(extra="forbid", validate_default=True, populate_by_name=True)
    title: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvWithoutFixed(settings_cls)

    @classmethod
    def variable(cls, field_name: str) -> str:
        """The environment variable of a field (a shared field's own variable)."""
        shared = _extra(cls.model_fields[field_name]).get("shared")
        return str(shared) if shared else f"{cls.model_config.get('env_prefix', '')}{field_name.upper()}"

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            if not _is_secret(field):
                continue
            variable = cls.variable(name)
            path = os.environ.get(variable + "_FILE")
            if not path:
                continue
            if variable in os.environ:
                raise ValueError(f"{variable}: set {variable} or {variable}_FILE, not both")
            try:
                data[name] = Path(path).read_text().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{variable}_FILE: cannot read {path}: {exc.strerror}") from None
        return data


def _is_secret(field: FieldInfo) -> bool:
    return "SecretStr" in repr(field.annotation)


# ---------------------------------------------------------------------------------------------- servers
class PostgresSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_PG_")
    title: ClassVar[str] = "PostgreSQL"

    host: ServerHost
    port: int = Field(default=15432, ge=1, le=65535)
    user: str = Field(default="eventledger")
    password: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PG_PASSWORD),
        description="a local-development default, refused in production (as is one under 16 bytes)",
        json_schema_extra={MIN_PRODUCTION_SECRET_BYTES: 16},
    )
    database: str = Field(default="eventledger", description="the event store's and the read models' database")
    read_model_schema: str = fixed(
        "read_model", "the stable schema of the PostgreSQL read model's views (versions live in `<schema>_v<N>`)"
    )

    @property
    def dsn(self) -> str:
        password = self.password.get_secret_value()
        return f"postgresql://{self.user}:{password}@{self.host}:{self.port}/{self.database}"


class RedisSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_REDIS_")
    title: ClassVar[str] = "Redis"

    host: ServerHost
    port: int = Field(default=16379, ge=1, le=65535)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


class KafkaSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_KAFKA_")
    title: ClassVar[str] = "Kafka"

    host: ServerHost
    port: int = Field(default=19092, ge=1, le=65535)
    partitions: int = Field(
        default=6, ge=1, description="partitions of every topic EventLedger creates (the broker creates none)"
    )
    session_timeout_seconds: SessionTimeout
    heap: str = Field(default="512m", description="the broker's JVM heap (provisioning)")

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


class ElasticsearchSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_ES_")
    title: ClassVar[str] = "Elasticsearch"

    host: ServerHost
    port: int = Field(default=19200, ge=1, le=65535, description="HTTP; transport is this plus 100")
    heap: str = Field(default="512m", description="the node's JVM heap (provisioning)")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class SchemaRegistrySettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_REGISTRY_")
    title: ClassVar[str] = "Schema registry"

    host: ServerHost
    port: int = Field(default=18181, ge=1, le=65535, description="Apicurio Registry's HTTP port (ADR 0028)")
    heap: str = Field(default="128m", description="the registry's JVM heap (provisioning)")
    retry_max_seconds: float = Field(
        default=10.0, gt=0, description="longest pause between the relay's attempts to register its schemas"
    )

    @property
    def url(self) -> str:
        """The Confluent-compatible API, the address every client (confluent-kafka, kcat) is given."""
        return f"http://{self.host}:{self.port}/apis/ccompat/v7"


class DeploymentSettings(Section):
    """What is not one server's nor one process's: the environment, the namespace, where state lives."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_")
    title: ClassVar[str] = "Deployment"

    environment: Environment
    namespace: NamespaceName
    host: ServerHost
    bind_host: BindHost
    state_dir: Path = Field(
        default=PROJECT_ROOT / ".state",
        description="server data and logs; `system/` holds the services' pid and log files",
        json_schema_extra={"shown": "`<repository>/.state`"},
    )
    cache_dir: Path = Field(
        default=PROJECT_ROOT / ".cache", description="downloads", json_schema_extra={"shown": "`<repository>/.cache`"}
    )

    @property
    def names(self) -> Namespace:
        return Namespace(self.namespace)


class TelemetrySettings(Section):
    """Where traces go (ADR 0032). The standard OpenTelemetry variable, not one of ours: it is the name collectors,
    operators and the SDK's own documentation use. The SDK's other ``OTEL_EXPORTER_OTLP_*`` knobs (headers, timeout,
    compression) and ``OTEL_TRACES_SAMPLER`` apply as documented there; each process names its own service."""

    model_config = SettingsConfigDict(env_prefix="OTEL_")
    title: ClassVar[str] = "Telemetry"

    exporter_otlp_endpoint: str = Field(
        default="",
        description="the OTLP/HTTP (protobuf) receiver every process exports its spans to (`/v1/traces` is added); "
        "empty: no span is recorded or exported",
    )

    @field_validator("exporter_otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not _HTTP_URL.match(value):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP), or empty")
        return value.rstrip("/")

    @property
    def traces_endpoint(self) -> str | None:
        """The URL spans are posted to, or None: tracing off."""
        return f"{self.exporter_otlp_endpoint}/v1/traces" if self.exporter_otlp_endpoint else None


# ---------------------------------------------------------------------------------------------- processes
def _read_model_schema() -> str:
    return PostgresSettings().read_model_schema


class CommandSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_COMMAND_")
    title: ClassVar[str] = "Command service"

    host: BindHost
    port: int = Field(default=18081, ge=0, le=65535)
    store: Literal["postgres", "memory"] = Field(
        default="postgres", description="`memory` runs the same service on the in-memory store (lost on exit)"
    )
    pool_size: int = Field(default=20, ge=1, description="PostgreSQL connections")
    # Every 20 events: a load then replays at most 19 events after its snapshot, which keeps the worst load
    # within 2x of a 10-event stream (bench/bench_aggregate_load.py).
    snapshot_interval: int = Field(default=20, ge=2, description="events between snapshots of a stream")
    max_attempts: int = fixed(
        10,
        "tries of a commutative command (deposit, withdrawal, transfer, post, void) before a concurrency conflict "
        "answers 409",
        ge=1,
    )
    expiry_interval_seconds: float = fixed(1.0, "between passes expiring due holds", gt=0)
    idempotency_retention_hours: int = Field(default=48, ge=24, description="PRODUCT.md §2: at least 24")
    backdate_window_days: int = Field(
        default=45,
        ge=0,
        le=3660,
        description="how far back a movement's `value_date` may lie (0: no back-dating); older ones answer 422",
    )


class PersonalDataSettings(Section):
    """The key-encryption keys of the personal-data keys (crypto-shredding, issue 12): every process that seals or
    opens personal fields (the command service, the projectors, the audit API) reads the same ones."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_PERSONAL_")
    title: ClassVar[str] = "Personal data"

    key_encryption_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PERSONAL_DATA_KEK),
        description="wraps every account holder's data key in PostgreSQL (the 32-byte key is derived from it with "
        "HKDF-SHA256); a development default, refused in production (as is one under 32 bytes)",
        json_schema_extra={MIN_PRODUCTION_SECRET_BYTES: 32},
    )
    previous_key_encryption_keys: SecretStr | None = Field(
        default=None,
        description="during a rotation, the earlier key-encryption keys (comma-separated): they still unwrap; "
        "`python -m eventledger_command.personal rewrap` moves every data key to the current one, then remove them",
    )
    key_cache_size: int = fixed(100_000, "data keys a reader keeps in memory (an erasure evicts its key)", ge=1)

    def secrets(self) -> list[str]:
        """The configured key-encryption secrets, the current one first."""
        previous = self.previous_key_encryption_keys.get_secret_value() if self.previous_key_encryption_keys else ""
        return [self.key_encryption_key.get_secret_value(), *(s.strip() for s in previous.split(",") if s.strip())]

    def keks(self) -> KeyEncryptionKeys:
        """The current and previous key-encryption keys, as 32-byte keys."""
        current, *previous = self.secrets()
        return KeyEncryptionKeys(derive_kek(current), [derive_kek(secret) for secret in previous])


class RelaySettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_RELAY_")
    title: ClassVar[str] = "Relay"

    batch_size: int = Field(default=2000, ge=1, description="events per batch")
    ops_port: int = Field(default=18091, ge=0, le=65535)
    standby_poll_seconds: float = Field(
        default=0.5, gt=0, description="how often a standby relay tries to take the leadership (bounds failover)"
    )
    checkpoint_name: str = fixed(RELAY_CHECKPOINT_NAME)


class AuditSettings(Section):
    """The verifiable log (ADR 0025): the key that signs tree heads, and how often a grown tree gets one."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_AUDIT_")
    title: ClassVar[str] = "Verifiable log"

    tree_head_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_TREE_HEAD_KEY),
        description="the Ed25519 private key that signs tree heads: 64 hex digits (the 32-byte seed) or a PKCS#8 "
        "PEM; a development default, refused in production",
        json_schema_extra={MIN_PRODUCTION_SECRET_BYTES: 32},
    )
    tree_head_seconds: float = Field(
        default=10.0, gt=0, description="the notary signs a new tree head at most this often while the log grows"
    )
    notary_batch: int = fixed(5000, "events the notary adds to the tree per transaction", ge=1)


class ProjectionSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_PROJECTION_")
    title: ClassVar[str] = "Projectors"

    namespace: NamespaceName
    batch_size: int = Field(default=500, ge=1, description="messages per batch")
    max_attempts: int = fixed(
        5, "failures of a batch before it is bisected, and of one event before it is parked", ge=1
    )
    progress_interval_seconds: float = fixed(0.2, "between refreshes of the position", gt=0)
    eager_progress_interval_seconds: float = fixed(
        0.005, "between refreshes while what a caught-up projector applied is not visible yet", gt=0
    )
    session_timeout_seconds: SessionTimeout
    ops_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="unset: 18101 / 18102 / 18103 by projection; 0: an ephemeral one (the instance registry has it)",
    )
    poll_timeout_seconds: float = fixed(0.1, gt=0)
    backoff_initial_seconds: float = fixed(0.05, gt=0)
    backoff_max_seconds: float = fixed(5.0, gt=0)
    rebuild_batch_size: int = fixed(2000, ge=1)
    relay_checkpoint_name: str = fixed(RELAY_CHECKPOINT_NAME)
    postgres_schema: str = Field(default_factory=_read_model_schema, json_schema_extra={"fixed": True})

    @property
    def names(self) -> Namespace:
        return Namespace(self.namespace)

    @property
    def topic_namespace(self) -> str:
        return self.names.topic_prefix

    def group_id(self, projection: str) -> str:
        """One consumer group per projection."""
        return self.names.group(f"eventledger-projection-{projection}")


class StreamingSettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_STREAMING_")
    title: ClassVar[str] = "Stream job"

    namespace: NamespaceName
    ops_port: int = Field(
        default=18111,
        ge=1,
        le=65535,
        description="also names the worker to faust (its data folder `<state>/streaming/worker-<port>` and its member "
        "URL): each worker of the job on a host has its own",
    )
    publish_interval_seconds: float = fixed(1.0, "between publications of changed windows", gt=0)
    session_timeout_seconds: SessionTimeout

    @property
    def names(self) -> Namespace:
        return Namespace(self.namespace)

    @property
    def app_id(self) -> str:
        """The faust app id, which is its consumer group."""
        return self.names.group("eventledger-transfer-windows")


class WatchdogSettings(Section):
    """One stall rule for every long-running worker (relay, projectors, stream job): ADR 0015."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_WATCHDOG_")
    title: ClassVar[str] = "Every worker's stall watchdog"

    stall_seconds: float = Field(
        default=30.0, gt=0, description="behind its head and not moving this long (not paused): a stall"
    )
    exit_grace_seconds: float = fixed(5.0, "between saying so and exiting for a restart", ge=0)
    interval_seconds: float = fixed(1.0, "between samples", gt=0)


class QuerySettings(Section):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_QUERY_")
    title: ClassVar[str] = "Query service"

    host: BindHost
    namespace: NamespaceName
    port: int = Field(default=18082, ge=0, le=65535)
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections")
    min_position_wait_seconds: float = Field(
        default=5.0, ge=0, le=30, description="how long a query with `X-Min-Position` waits before answering 503"
    )
    stream_interval_seconds: float = fixed(1.0, "between checks for new figures on `/v1/stats/stream`", gt=0)
    postgres_schema: str = Field(default_factory=_read_model_schema, json_schema_extra={"fixed": True})

    @property
    def redis_base(self) -> str:
        return Namespace(self.namespace).redis_base

    @property
    def elasticsearch_prefix(self) -> str:
        return Namespace(self.namespace).index_prefix


Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "off"]
NO_EXTERNAL_TOKENS = "off"
"""The ``jwt_algorithm`` that accepts only the tokens the gateway's authorization server issued (ADR 0024)."""


def _redis_url() -> str:
    return RedisSettings().url


def _rate_limit_key_prefix() -> str:
    return Namespace(DeploymentSettings().namespace).redis_prefix + "eventledger:gateway:ratelimit:"


CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Min-Position", "X-Request-Id")
CORS_EXPOSED_HEADERS = (
    "X-Request-Id",
    "X-Correlation-Id",
    "X-Read-Position",
    "Retry-After",
    "Location",
    "Idempotent-Replayed",
    "WWW-Authenticate",
)
CORS_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
_ORIGIN = re.compile(r"^https?://([a-z0-9.-]+|\[[0-9a-f:]+\])(:[0-9]{1,5})?$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _check_certificate_and_key(cert: Path, key: Path) -> None:
    """Refuse at start-up what uvicorn would refuse later with a bare OpenSSL error."""
    for variable, path in (("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", key)):
        if not path.is_file():
            raise ValueError(f"EVENTLEDGER_GATEWAY_{variable}: no such file {str(path)!r}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(
            f"EVENTLEDGER_GATEWAY_TLS_CERT_FILE and EVENTLEDGER_GATEWAY_TLS_KEY_FILE: {str(cert)!r} and "
            f"{str(key)!r} are not a PEM certificate and its private key ({exc})"
        ) from None


class GatewaySettings(Section):
    """The gateway: a constructed instance is usable. Construction refuses (with the variable to set):
    - in ``production``, an HMAC algorithm: shared-secret tokens are for development (tokens come from the
      gateway's own authorization server, ADR 0024, or from an RS256/ES256 issuer whose public key is configured);
    - an HMAC secret under 32 bytes outside development, an empty one anywhere;
    - an asymmetric algorithm (RS256, ES256) without a public key, or without the ``cryptography`` package;
    - a TLS certificate without its key (or the reverse), a missing file, or a pair OpenSSL does not load;
    - a CORS entry that is not a bare origin, method or header name; ``*`` as an origin in ``production``."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_GATEWAY_")
    title: ClassVar[str] = "Gateway"

    host: BindHost
    environment: Environment
    port: int = Field(default=18080, ge=0, le=65535)
    command_url: str = Field(default="http://127.0.0.1:18081", description="plain `http://` only")
    query_url: str = Field(default="http://127.0.0.1:18082", description="plain `http://` only")
    jwt_algorithm: Algorithm = Field(
        default="HS256",
        description="tokens the gateway did not issue itself: HS256/384/512 from the development `token` command "
        "(development only), RS256/ES256 from another issuer with its public key; `off`: only the gateway's own",
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_JWT_SECRET),
        description="signs and checks development tokens (HS256/384/512, never accepted in production)",
        json_schema_extra={"development_only": True},
    )
    jwt_public_key: SecretStr | None = Field(default=None, description="a PEM key, for RS256/ES256")
    jwt_issuer: str | None = Field(default=None, description="checked when set")
    jwt_audience: str | None = Field(default=None, description="checked when set")
    jwt_leeway_seconds: float = fixed(30.0, "clock skew allowed on `exp` and `nbf`", ge=0)
    # The authorization server: OAuth 2.0 client credentials, rotating EdDSA signing keys (ADR 0024)
    oauth_issuer: str = Field(
        default="http://127.0.0.1:18080",
        description="the `iss` of the access tokens the gateway issues, and the issuer of its metadata: the address "
        "clients reach the gateway at",
    )
    oauth_audience: str = Field(default="eventledger-api", description="the `aud` of the access tokens it issues")
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400, description="an access token's lifetime")
    signing_key_rotation_seconds: int = Field(
        default=86_400, ge=600, description="a signing key older than this is replaced by a new one"
    )
    key_encryption_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_KEY_ENCRYPTION_KEY),
        description="encrypts the signing keys stored in PostgreSQL; a development default, refused in production "
        "(as is one under 32 bytes)",
        json_schema_extra={MIN_PRODUCTION_SECRET_BYTES: 32},
    )
    signing_key_refresh_seconds: float = fixed(5.0, "how often each gateway reloads the published keys", gt=0)
    token_requests_per_second: float = fixed(2.0, "token requests per client id, refilled per second", gt=0)
    token_request_burst: int = fixed(10, "token requests per client id at once", ge=1)
    rate_limit_enabled: bool = fixed(True)
    rate_limit_per_second: float = Field(default=50.0, gt=0, description="per subject")
    rate_limit_burst: int = Field(default=100, ge=1, description="per subject")
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    upstream_max_connections: int = fixed(200, "requests in flight per upstream", ge=1)
    stream_idle_timeout_seconds: float = fixed(300.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger bodies: 413")
    # Transport and browser rules (ADR 0023)
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate (chain); with `TLS_KEY_FILE` the gateway answers HTTPS only, with HSTS. Under "
        "`make up` HAProxy serves it on the public port instead",
    )
    tls_key_file: Path | None = Field(default=None, description="the PEM private key of `TLS_CERT_FILE`")
    hsts_max_age_seconds: int = fixed(
        31_536_000, "`Strict-Transport-Security: max-age` when TLS is on (a year; no `includeSubDomains`)", ge=0
    )
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="browser origins (`https://app.example.com`, comma-separated) whose pages may call the API; "
        "empty: no CORS headers at all. `*` stands alone and is refused in production",
        json_schema_extra={"shown": "empty"},
    )
    cors_allow_methods: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["GET", "POST"],
        description="methods a listed origin may use (comma-separated)",
        json_schema_extra={"shown": "`GET,POST`"},
    )
    cors_allow_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CORS_REQUEST_HEADERS),
        description="request headers a listed origin may send (comma-separated)",
        json_schema_extra={"shown": "`" + ",".join(CORS_REQUEST_HEADERS) + "`"},
    )
    cors_expose_headers: list[str] = fixed(
        list(CORS_EXPOSED_HEADERS), "answer headers a listed origin's script may read"
    )
    cors_max_age_seconds: int = fixed(600, "how long a browser may keep a preflight's answer", ge=0)
    # Not set by any variable: derived from the sections above, or constants tests may override.
    audit_url: str | None = fixed(None, description="unset: the command service (ADR 0009)")
    admin_url: str | None = fixed(None, description="unset: the query service")
    redis_url: str = Field(default_factory=_redis_url, json_schema_extra={"fixed": True})
    rate_limit_key_prefix: str = Field(default_factory=_rate_limit_key_prefix, json_schema_extra={"fixed": True})
    redis_timeout_seconds: float = fixed(0.25, gt=0)
    upstream_connect_timeout_seconds: float = fixed(2.0, gt=0)
    upstream_pool_timeout_seconds: float = fixed(5.0, gt=0)
    upstream_retry_after_seconds: int = fixed(2, ge=1, description="the Retry-After of the gateway's own 503s")
    upstream_retries: int = fixed(2, "extra attempts of a request that is safe to repeat (ADR 0018)", ge=0)
    breaker_failure_threshold: int = fixed(5, "failures in a row that open an upstream's circuit", ge=1)
    breaker_cooldown_seconds: float = fixed(5.0, "how long an open circuit refuses before its probe", gt=0)

    @field_validator("command_url", "query_url", "audit_url", "admin_url")
    @classmethod
    def _plain_http(cls, url: str | None) -> str | None:
        """The sides are reached over plain HTTP on one host (ADR 0023 §6 says what TLS there would take)."""
        if url is not None and not url.startswith("http://"):
            raise ValueError(f"an upstream address must start with http://, got {url!r}")
        return url.rstrip("/") if url else url

    @field_validator("cors_allow_origins", "cors_allow_methods", "cors_allow_headers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        """Bare origins only: a path or a trailing slash would never equal a browser's ``Origin`` and so fail
        silently."""
        if "*" in origins and len(origins) > 1:
            raise ValueError("`*` allows every origin, so it stands alone")
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], lower case, no path or slash")
        return origins

    @field_validator("cors_allow_methods")
    @classmethod
    def _methods(cls, methods: list[str]) -> list[str]:
        unknown = [method for method in methods if method not in CORS_METHODS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not one of {', '.join(sorted(CORS_METHODS))} (upper case)")
        return methods

    @field_validator("cors_allow_headers")
    @classmethod
    def _headers(cls, headers: list[str]) -> list[str]:
        bad = [header for header in headers if not _HEADER_NAME.match(header)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: not a header name (`*` is not taken: list them)")
        return headers

    @model_validator(mode="after")
    def _transport_and_browser_rules(self) -> Self:
        if self.cors_allow_origins == ["*"] and self.environment == "production":
            raise ValueError(
                "EVENTLEDGER_GATEWAY_CORS_ALLOW_ORIGINS: refusing `*` in production: list the origins whose pages "
                "may call the API"
            )
        cert, key = self.tls_cert_file, self.tls_key_file
        if (cert is None) != (key is None):
            raise ValueError(
                "EVENTLEDGER_GATEWAY_TLS_CERT_FILE and EVENTLEDGER_GATEWAY_TLS_KEY_FILE go together: "
                "set both or neither"
            )
        if cert is not None and key is not None:
            _check_certificate_and_key(cert, key)
        return self

    @property
    def tls(self) -> bool:
        """Whether the gateway itself answers HTTPS (and so sends HSTS)."""
        return self.tls_cert_file is not None

    @model_validator(mode="after")
    def _refuse_unsafe_keys(self) -> Self:
        if self.jwt_algorithm in HMAC_ALGORITHMS:
            self._check_secret()
        elif self.jwt_algorithm != NO_EXTERNAL_TOKENS:
            self._check_public_key()
        return self

    def _check_secret(self) -> None:
        secret = self.jwt_secret.get_secret_value()
        if not secret:
            raise ValueError("EVENTLEDGER_GATEWAY_JWT_SECRET is empty")
        if self.environment != "development":
            raise ValueError(
                f"refusing to start in {self.environment} with EVENTLEDGER_GATEWAY_JWT_ALGORITHM="
                f"{self.jwt_algorithm}: shared-secret tokens are for development; set it to `off` (clients obtain "
                "tokens at POST /oauth/token) or to RS256/ES256 with your issuer's public key "
                "(EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE)"
            )

    def _check_public_key(self) -> None:
        if self.jwt_public_key is None or not self.jwt_public_key.get_secret_value():
            raise ValueError(
                f"EVENTLEDGER_GATEWAY_JWT_ALGORITHM={self.jwt_algorithm} needs a public key: set "
                "EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE (a PEM file) or EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY"
            )
        if importlib.util.find_spec("cryptography") is None:  # PyJWT verifies RS256/ES256 with it
            raise ValueError(f"EVENTLEDGER_GATEWAY_JWT_ALGORITHM={self.jwt_algorithm} needs the 'cryptography' package")

    @property
    def verification_key(self) -> str | None:
        """The key other issuers' tokens are verified with: the HMAC secret, the PEM public key, or none (`off`)."""
        if self.jwt_algorithm in HMAC_ALGORITHMS:
            return self.jwt_secret.get_secret_value()
        if self.jwt_algorithm == NO_EXTERNAL_TOKENS:
            return None
        assert self.jwt_public_key is not None  # guaranteed by the validator
        return self.jwt_public_key.get_secret_value()

    def upstream_url(self, upstream: str) -> str:
        """The base address of ``upstream`` (command, query, audit, admin)."""
        urls = {
            "command": self.command_url,
            "query": self.query_url,
            "audit": self.audit_url or self.command_url,
            "admin": self.admin_url or self.query_url,
        }
        return urls[upstream]


SECTIONS: tuple[type[Section], ...] = (
    DeploymentSettings,
    PostgresSettings,
    RedisSettings,
    KafkaSettings,
    ElasticsearchSettings,
    SchemaRegistrySettings,
    CommandSettings,
    PersonalDataSettings,
    RelaySettings,
    AuditSettings,
    ProjectionSettings,
    StreamingSettings,
    WatchdogSettings,
    QuerySettings,
    GatewaySettings,
    TelemetrySettings,
)


@dataclass(frozen=True)
class Settings:
    """The whole tree. Build it with :func:`load_settings`; a process may also build one section alone."""

    deployment: DeploymentSettings
    postgres: PostgresSettings
    redis: RedisSettings
    kafka: KafkaSettings
    elasticsearch: ElasticsearchSettings
    registry: SchemaRegistrySettings
    command: CommandSettings
    personal: PersonalDataSettings
    relay: RelaySettings
    audit: AuditSettings
    projections: ProjectionSettings
    streaming: StreamingSettings
    watchdog: WatchdogSettings
    query: QuerySettings
    gateway: GatewaySettings
    telemetry: TelemetrySettings

    def sections(self) -> Iterator[Section]:
        for name in self.__dataclass_fields__:
            yield getattr(self, name)

    @property
    def names(self) -> Namespace:
        return self.deployment.names

    # The servers' addresses in the forms the clients take (:class:`Servers`).
    @property
    def postgres_dsn(self) -> str:
        return self.postgres.dsn

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def elasticsearch_url(self) -> str:
        return self.elasticsearch.url

    @property
    def registry_url(self) -> str:
        return self.registry.url

    @property
    def kafka_partitions(self) -> int:
        return self.kafka.partitions

    @property
    def state_dir(self) -> Path:
        return self.deployment.state_dir


def load_settings() -> Settings:
    """Every section from the environment, checked together; :class:`SettingsError` names each bad variable."""
    built: dict[str, Section] = {}
    problems = [
        f"{old} no longer exists; use {new} (ADR 0013)" for old, new in REMOVED_VARIABLES.items() if old in os.environ
    ]
    for field_name, section in zip(Settings.__dataclass_fields__, SECTIONS, strict=True):
        try:
            built[field_name] = section()
        except ValidationError as exc:
            problems.extend(_describe(section, exc))
    if problems:
        raise SettingsError("invalid settings:\n" + "\n".join(f"  - {p}" for p in dict.fromkeys(problems)))
    settings = Settings(**built)  # type: ignore[arg-type]
    refused = production_refusals(settings)
    if refused:
        raise SettingsError("invalid settings:\n" + "\n".join(f"  - {p}" for p in refused))
    return settings


def _describe(section: type[Section], exc: ValidationError) -> list[str]:
    # A section's derived default reads another section, whose error then carries that section's title.
    section = {s.__name__: s for s in SECTIONS}.get(exc.title, section)
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = str(error["loc"][0]) if error["loc"] else ""
        if field.startswith(PREFIX):
            lines.append(f"{field}: {message} (got {error.get('input')!r})")
        elif field in section.model_fields:
            given = error.get("input")
            shown = "" if _is_secret(section.model_fields[field]) or isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"{section.variable(field)}: {message}{shown}")
        else:
            lines.append(message)
    return lines


def production_refusals(settings: Settings) -> list[str]:
    """In production, each secret still at its declared default or shorter than its minimum, named by its
    variable (never with its value)."""
    if settings.deployment.environment != "production":
        return []
    refused = []
    for section in settings.sections():
        for name, field in type(section).model_fields.items():
            development_only = _extra(field).get("development_only")
            if not _is_secret(field) or not isinstance(field.default, SecretStr) or development_only:
                continue
            value = getattr(section, name)
            if not isinstance(value, SecretStr):
                continue
            variable = type(section).variable(name)
            shortest = int(_extra(field).get(MIN_PRODUCTION_SECRET_BYTES, 0))
            if value.get_secret_value() == field.default.get_secret_value():
                refused.append(
                    f"{variable}: refusing to start in production with the default, which anybody can read in the "
                    f"source; set your own (or point {variable}_FILE at a file holding it)"
                )
            elif len(value.get_secret_value().encode()) < shortest:
                refused.append(f"{variable}: refusing to start in production with a secret under {shortest} bytes")
    return refused


class Servers(Protocol):
    """What a service needs to know to reach the servers. :class:`Settings` answers it; so does the provisioning
    tool's reader, which the test fixtures use."""

    @property
    def postgres_dsn(self) -> str: ...
    @property
    def redis_url(self) -> str: ...
    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def elasticsearch_url(self) -> str: ...
    @property
    def registry_url(self) -> str: ...
    @property
    def kafka_partitions(self) -> int: ...
    @property
    def state_dir(self) -> Path: ...


def settings_or_exit(program: str) -> Settings:
    """:func:`load_settings` for a process's ``main``: on invalid settings, print why and exit with status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
