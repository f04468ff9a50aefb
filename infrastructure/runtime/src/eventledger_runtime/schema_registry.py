"""The schema registry port on confluent-kafka's ``SchemaRegistryClient`` (Apicurio Registry's Confluent-compatible
API here, ADR 0028), and the relay's start-up registration with back-off."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError, ServerConfig
from confluent_kafka.schema_registry.common.schema_registry_client import ConfigCompatibilityLevel
from prometheus_client import Gauge

from eventledger_events import (
    COMPATIBILITY_LEVEL,
    EVENT_REGISTRY,
    V2_TOPICS,
    RegisteredSchemaIds,
    SchemaRegistryUnavailableError,
    default_avro_catalog,
    register_schemas,
    subject_for,
)
from eventledger_events import SchemaRegistry as SchemaRegistryPort
from eventledger_events.avro_schema import avro_schema_for
from eventledger_events.published import render_schema
from eventledger_events.registered_schemas import topic_of_event_type

log = logging.getLogger(__name__)

T = TypeVar("T")

REGISTRY_UP = Gauge(
    "eventledger_schema_registry_up",
    "1 when this process's last call to the schema registry was answered, 0 when it could not be asked",
)

_NOT_FOUND = 404
_CONFLICT = 409
_UNPROCESSABLE = 422


class ConfluentSchemaRegistry:
    """:class:`~eventledger_events.SchemaRegistry` over HTTP with confluent-kafka's client (which caches what an id
    maps to, and retries a failed request a few times with back-off)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self._client = SchemaRegistryClient(
            {"url": url, "timeout": timeout_seconds, "max.retries": 2, "retries.wait.ms": 200}
        )

    def _call(self, call: Callable[[], T], what: str) -> T:
        try:
            answer = call()
        except SchemaRegistryError as error:
            if error.http_status_code is not None and error.http_status_code >= 500:
                REGISTRY_UP.set(0)
                raise SchemaRegistryUnavailableError(f"{what}: the registry answered {error}") from error
            REGISTRY_UP.set(1)
            raise
        except Exception as error:  # connection refused, timeout: the client's transport errors
            REGISTRY_UP.set(0)
            raise SchemaRegistryUnavailableError(f"{what}: {type(error).__name__}: {error}") from error
        REGISTRY_UP.set(1)
        return answer

    def register(self, subject: str, schema: str) -> int:
        try:
            return self._call(lambda: self._client.register_schema(subject, Schema(schema, "AVRO")), "register")
        except SchemaRegistryError as error:
            if error.http_status_code in (_CONFLICT, _UNPROCESSABLE):
                raise ValueError(f"the registry refused the schema for {subject}: {error}") from error
            raise

    def schema(self, schema_id: int) -> str:
        try:
            return str(self._call(lambda: self._client.get_schema(schema_id).schema_str, "get schema"))
        except SchemaRegistryError as error:
            if error.http_status_code == _NOT_FOUND:
                raise LookupError(f"schema id {schema_id}") from error
            raise

    def set_compatibility(self, subject: str, level: str) -> None:
        config = ServerConfig(compatibility=ConfigCompatibilityLevel(level))
        self._call(lambda: self._client.set_config(subject, config), "set compatibility")

    def compatible(self, subject: str, schema: str) -> bool:
        def ask() -> bool:
            try:
                return bool(self._client.test_compatibility(subject, Schema(schema, "AVRO")))
            except SchemaRegistryError as error:
                if error.http_status_code == _CONFLICT:  # Apicurio answers an incompatible schema with 409
                    return False
                if error.http_status_code == _NOT_FOUND:  # no version yet: anything may be registered
                    return True
                raise

        return self._call(ask, "compatibility check")


def incompatible_schemas(registry: SchemaRegistryPort, topics: Iterable[str] = V2_TOPICS) -> list[str]:
    """The CI compatibility check, asked of the registry: each event type's current schema must be acceptable under
    its subject (the subject's level, ``BACKWARD_TRANSITIVE``, against every version registered so far). Answers
    the subjects whose current schema the registry would refuse."""
    chosen = set(topics)
    refused = []
    for model in EVENT_REGISTRY.current_models():
        topic = topic_of_event_type(model.EVENT_TYPE)
        if topic not in chosen:
            continue
        subject = subject_for(topic, model.EVENT_TYPE)
        if not registry.compatible(subject, render_schema(avro_schema_for(model))):
            refused.append(f"{subject}: {model.EVENT_TYPE}.v{model.SCHEMA_VERSION} is not {COMPATIBILITY_LEVEL}")
    return refused


def read_wire_format_with(url: str) -> ConfluentSchemaRegistry:
    """Let this process's consumers read the Confluent wire format: the default Avro catalogue asks the registry at
    ``url`` for the schema of each id it meets first."""
    registry = ConfluentSchemaRegistry(url)
    default_avro_catalog().attach_registry(registry)
    return registry


def register_until_done(
    registry: SchemaRegistryPort,
    topics: Iterable[str],
    *,
    stopping: Callable[[], bool],
    wait: Callable[[float], object],
    max_pause_seconds: float = 10.0,
) -> RegisteredSchemaIds | None:
    """Register every schema (``register_schemas``), retrying with jittered exponential back-off while the registry
    cannot answer; None when asked to stop first. A refused schema (an incompatible change) is not retried."""
    chosen = tuple(topics)
    pause = 0.2
    while not stopping():
        try:
            ids = register_schemas(registry, chosen)
        except SchemaRegistryUnavailableError as error:
            log.warning("schema registry unavailable, retrying in %.1f s: %s", pause, error)
            wait(pause * random.uniform(0.5, 1.0))
            pause = min(pause * 2, max_pause_seconds)
            continue
        log.info("%d schemas registered", len(ids.ids))
        return ids
    return None
