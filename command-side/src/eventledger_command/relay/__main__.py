"""Run the relay: ``python -m eventledger_command.relay`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

import logging
import signal
import sys
import time

from eventledger_command.config import RelaySettings
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.checkpoint import PostgresCheckpoints
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS
from eventledger_infra import probes
from eventledger_infra.settings import Settings
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.ops_http import serve_ops


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s relay %(message)s")
    infra = Settings.from_env()
    settings = RelaySettings()
    store = PostgresEventStore(infra.postgres_dsn, pool_size=2)
    checkpoints = PostgresCheckpoints(infra.postgres_dsn)
    publisher = KafkaEventPublisher(infra.kafka_bootstrap)
    topics = [settings.topic_namespace + topic for topic in ALL_TOPICS]
    relay = Relay(
        store,
        publisher,
        checkpoints,
        RelayConfig(
            checkpoint_name=settings.checkpoint_name,
            batch_size=settings.batch_size,
            topic_namespace=settings.topic_namespace,
        ),
    )
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    signal.signal(signal.SIGINT, lambda *_: relay.stop())
    serve_ops(infra.host, settings.ops_port, ready=lambda: probes.kafka_broker_count(infra) >= 1)
    # Kafka may be down when the relay starts: wait for it (commands are accepted meanwhile).
    while not relay.stopping:
        try:
            ensure_topics(infra.kafka_bootstrap, topics, infra.kafka_partitions)
            break
        except Exception as exc:
            logging.warning("cannot create the topics yet (%s); retrying", exc)
            time.sleep(2)
    logging.info("relaying from position %d to %s", relay.position, ", ".join(topics))
    try:
        relay.run()
    finally:
        publisher.close()
        checkpoints.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
