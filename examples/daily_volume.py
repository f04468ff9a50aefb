"""Daily volume per currency from EventLedger's transfers topic, read with confluent-kafka and the schema registry.

An analyst's consumer, as docs/analysts.md describes it: it knows nothing of EventLedger's code. The values are in the
Confluent wire format; confluent-kafka's ``AvroDeserializer`` asks the registry for each writer schema by the id in
the message. It reads the topic from its beginning to its current end, sums the money that moved per day (UTC, from
the ``recorded-at`` header) and currency, prints the table (or JSON), and exits.

Money that moved: ``transfer.posted`` (deposits, withdrawals and transfers) and ``transfer.pending_posted``; pending,
voided and expired transfers move nothing. Amounts are integer minor units (cents).

    python examples/daily_volume.py --help
    python examples/daily_volume.py --bootstrap 127.0.0.1:19092 --registry http://127.0.0.1:18181/apis/ccompat/v7
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import defaultdict
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from confluent_kafka.serialization import SerializationError as SerializerError

MOVED_MONEY = {"transfer.posted", "transfer.pending_posted"}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers (%(default)s)")
    parser.add_argument(
        "--registry",
        default="http://127.0.0.1:18181/apis/ccompat/v7",
        help="the schema registry's Confluent-compatible API (%(default)s)",
    )
    parser.add_argument("--topic", default="eventledger.transfers.v2", help="the transfers topic (%(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up reading after this many seconds")
    return parser.parse_args(argv)


def headers_of(message: Any) -> dict[str, str]:
    return {name: (value or b"").decode() for name, value in message.headers() or ()}


def end_offsets(consumer: Consumer, topic: str, timeout: float) -> dict[int, int]:
    """The current end of each partition: where this run stops reading."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise SystemExit(f"daily_volume: topic {topic} does not exist ({metadata.error if metadata else 'unknown'})")
    ends = {}
    for partition in metadata.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
        if high > low:
            ends[partition] = high
    return ends


def daily_volume(bootstrap: str, registry: str, topic: str, timeout: float) -> dict[tuple[str, str], int]:
    """``{(day, currency): amount}`` over the whole topic as it is now."""
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"daily-volume-{uuid.uuid4().hex[:8]}",  # a one-off reader: no offsets of its own
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    volume: dict[tuple[str, str], int] = defaultdict(int)
    try:
        ends = end_offsets(consumer, topic, timeout)
        consumer.assign([TopicPartition(topic, partition, 0) for partition in ends])
        remaining = dict(ends)
        while remaining:
            message = consumer.poll(timeout)
            if message is None:
                raise SystemExit(f"daily_volume: nothing more arrived within {timeout:.0f} s")
            if message.error():
                raise KafkaException(message.error())
            if message.offset() + 1 >= remaining.get(message.partition(), 0):
                remaining.pop(message.partition(), None)
            headers = headers_of(message)
            if headers.get("event-type") not in MOVED_MONEY:
                continue
            record = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
            day = headers["recorded-at"][:10]  # RFC 3339 UTC: the date is its first ten characters
            volume[(day, record["currency"])] += int(record["amount"])
    finally:
        consumer.close()
    return dict(volume)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.timeout <= 0:
        print("daily_volume: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        volume = daily_volume(args.bootstrap, args.registry, args.topic, args.timeout)
    except (KafkaException, SerializerError, SchemaRegistryError, OSError, ValueError) as error:
        print(f"daily_volume: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    rows = sorted(volume.items())
    if args.json:
        print(json.dumps([{"day": day, "currency": currency, "amount": amount} for (day, currency), amount in rows]))
    else:
        print(f"{'day':<10}  {'currency':<8}  {'amount (minor units)':>20}")
        for (day, currency), amount in rows:
            print(f"{day:<10}  {currency:<8}  {amount:>20}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
