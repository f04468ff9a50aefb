"""Run the relay: ``python -m eventledger_command.relay`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

import logging
import signal
import sys
import time

from eventledger_command.config import RelaySettings
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.publisher import KafkaEventPublisher, ensure_topics
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS
from eventledger_infra import probes
from eventledger_infra.ops_http import serve_ops
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.watchdog import EXIT_STALLED, Sample, Watchdog


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s relay %(message)s")
    infra = Settings.from_env()
    settings = RelaySettings()
    store = PostgresEventStore(infra.postgres_dsn, pool_size=2)
    checkpoints = PostgresEventLogReader(infra.postgres_dsn, name="checkpoints")
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
    watchdog = Watchdog("relay", lambda: Sample(store.head_position(), relay.position), relay.stop)
    serve_ops(
        infra.host,
        settings.ops_port,
        ready=lambda: probes.kafka_broker_count(infra) >= 1,
        status=watchdog.status,
        stalled=lambda: watchdog.stall_reason,
    )
    # Kafka may be down when the relay starts: wait for it (commands are accepted meanwhile).
    while not relay.stopping:
        try:
            ensure_topics(infra.kafka_bootstrap, topics, infra.kafka_partitions)
            break
        except Exception as exc:
            logging.warning("cannot create the topics yet (%s); retrying", exc)
            time.sleep(2)
    logging.info("relaying from position %d to %s", relay.position, ", ".join(topics))
    watchdog.start()
    try:
        relay.run()
    finally:
        watchdog.close()
        publisher.close()
        checkpoints.close()
        store.close()
    return EXIT_STALLED if watchdog.stall_reason is not None else 0


if __name__ == "__main__":
    sys.exit(main())
