"""Read back what reached Kafka and check the relay's guarantees against the event store."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import KafkaException

from eventledger_command.eventstore.records import RecordedEvent
from tests.support.kafka_groups import reader


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    key: str
    headers: dict[str, str]
    value: bytes


def consume_all(bootstrap: str, topics: list[str], expected: int, timeout: float = 120.0) -> list[Delivered]:
    """Every message of ``topics`` from the beginning; stops once ``expected`` arrived and 2 s passed quietly."""
    consumer = reader(bootstrap, topics, f"checker-{uuid.uuid4()}")
    delivered: list[Delivered] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(delivered) >= expected and time.monotonic() - quiet_since > 2.0:
                    break
                continue
            if message.error():
                raise KafkaException(message.error())
            quiet_since = time.monotonic()
            pairs: list[tuple[str, bytes | None]] = list(message.headers() or [])  # type: ignore[arg-type]
            headers = {name: (raw or b"").decode() for name, raw in pairs}
            delivered.append(
                Delivered(
                    message.topic() or "",
                    message.partition() or 0,
                    bytes(message.key() or b"").decode(),
                    headers,
                    bytes(message.value() or b""),
                )
            )
    finally:
        consumer.close()
    return delivered


def check_at_least_once_in_order(recorded: list[RecordedEvent], delivered: list[Delivered]) -> dict[str, int]:
    """Every recorded event reached Kafka at least once, under its stream's key, and per key the first
    appearances follow the stream's versions. Returns counts for the report (events, messages, duplicates)."""
    seen_ids = {d.headers["event-id"] for d in delivered}
    missing = [e for e in recorded if str(e.event_id) not in seen_ids]
    assert not missing, f"{len(missing)} events never reached Kafka, first: {missing[0]}"
    first_versions: dict[str, list[int]] = {}
    seen: set[str] = set()
    for message in delivered:
        event_id = message.headers["event-id"]
        if event_id in seen:
            continue
        seen.add(event_id)
        first_versions.setdefault(message.key, []).append(int(message.headers["stream-version"]))
    for key, versions in first_versions.items():
        assert versions == sorted(versions), f"{key}: events out of order in Kafka: {versions}"
    partitions_per_key: dict[str, set[int]] = {}
    for message in delivered:
        partitions_per_key.setdefault(message.key, set()).add(message.partition)
    assert all(len(p) == 1 for p in partitions_per_key.values()), "a stream's events are spread over partitions"
    return {"events": len(recorded), "messages": len(delivered), "duplicates": len(delivered) - len(seen)}
