"""Run the relay: ``python -m eventledger_command.relay`` (settings from EVENTLEDGER_* variables).

The process also runs a notary in a thread of its own: it grows the Merkle tree of the global log and signs tree
heads (ADR 0025); the notaries of several relays never interleave."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.notary.notary import Notary, TreeHeads, load_signing_key
from eventledger_command.notary.tree import PostgresMerkleTree
from eventledger_command.relay.leadership import PostgresAdvisoryLock
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS, RegisteredSchemaIds
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.eventlog.checkpoint_notice import PostgresCheckpointAnnouncer
from eventledger_runtime.eventlog.notice import PostgresNewEventsListener
from eventledger_runtime.kafka import ensure_topics, when_kafka_answers
from eventledger_runtime.observability import observe_as
from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.probes import kafka_answers
from eventledger_runtime.schema_registry import ConfluentSchemaRegistry, register_until_done
from eventledger_runtime.settings import settings_or_exit
from eventledger_runtime.watchdog import EXIT_STALLED, Sample, Watchdog, unless_kafka_is_down
from eventledger_runtime.worker import stop_on_signals


@dataclass
class _Registration:
    ids: RegisteredSchemaIds | None = None
    state: str = "waiting for the schema registry"


def main() -> int:
    no_arguments("python -m eventledger_command.relay", __doc__)
    observe_as("relay")
    settings = settings_or_exit("relay")
    kafka = settings.kafka
    store = PostgresEventStore(settings.postgres.dsn, pool_size=2)
    checkpoints = PostgresEventLogReader(settings.postgres.dsn, name="checkpoints")
    publisher = KafkaEventPublisher(kafka.bootstrap)
    new_events = PostgresNewEventsListener(settings.postgres.dsn)  # command services notify after appends (ADR 0021)
    checkpoint_notices = PostgresCheckpointAnnouncer(settings.postgres.dsn)  # to the projectors (ADR 0037)
    topics = [settings.names.topic(topic) for topic in ALL_TOPICS]
    schema_registry = ConfluentSchemaRegistry(settings.registry.url)
    # Any number of relays may run: the one holding the lock publishes, the others stand by (ADR 0016).
    leadership = PostgresAdvisoryLock(
        settings.postgres.dsn, namespace=settings.names.value, name=settings.relay.checkpoint_name
    )
    relay = Relay(
        store,
        publisher,
        checkpoints,
        RelayConfig(
            checkpoint_name=settings.relay.checkpoint_name,
            batch_size=settings.relay.batch_size,
            topic_namespace=settings.names.topic_prefix,
            standby_poll_seconds=settings.relay.standby_poll_seconds,
        ),
        leadership,
        new_events,
        checkpoint_notices=checkpoint_notices,
    )
    registered = _Registration()
    notary_pool = ConnectionPool(settings.postgres.dsn, min_size=1, max_size=2, open=True, kwargs={"autocommit": True})
    notary_reader = PostgresEventLogReader(settings.postgres.dsn, name="notary")
    tree = PostgresMerkleTree(notary_pool)
    notary = Notary(
        tree,
        notary_reader,
        TreeHeads(tree, load_signing_key(settings.audit.tree_head_key.get_secret_value())),
        batch=settings.audit.notary_batch,
        head_every_seconds=settings.audit.tree_head_seconds,
    )

    def stop() -> None:
        relay.stop()
        notary.stop()

    stop_on_signals(stop)

    def kafka_up() -> bool:
        return kafka_answers(kafka.host, kafka.port)

    watchdog = Watchdog(
        "relay",
        unless_kafka_is_down(
            kafka_up, lambda: Sample(store.head_position(), relay.position, standby=not relay.leading)
        ),
        relay.stop,
        settings.watchdog,
    )
    serve_ops(
        settings.deployment.bind_host,
        settings.relay.ops_port,
        ready=lambda: registered.ids is not None and kafka_up(),
        status=lambda: {
            **watchdog.status(),
            "role": relay.role,
            "term": relay.term,
            "schemas": registered.state,
            "registry": schema_registry.url,
        },
        stalled=lambda: watchdog.stall_reason,
    )
    # Kafka may be down when the relay starts: wait for it (commands are accepted meanwhile).
    when_kafka_answers(
        lambda: ensure_topics(kafka.bootstrap, topics, kafka.partitions), stopping=lambda: relay.stopping
    )
    # Every schema is registered before anything is published (ADR 0028). Until the registry answers the relay
    # waits (commands are accepted meanwhile: the log keeps them, nothing is lost), is not ready, says so on
    # /status and in eventledger_schema_registry_up.
    registered.ids = register_until_done(
        schema_registry,
        ALL_TOPICS,
        stopping=lambda: relay.stopping,
        wait=relay.wait,
        max_pause_seconds=settings.registry.retry_max_seconds,
    )
    if registered.ids is None:
        return 0
    relay.use_schema_ids(registered.ids)
    registered.state = f"{len(registered.ids.ids)} registered"
    logging.info("relaying to %s once leading (checkpoint now %d)", ", ".join(topics), relay.position)
    watchdog.start()
    notarising = threading.Thread(target=notary.run, name="notary", daemon=True)
    notarising.start()
    try:
        relay.run()
    finally:
        notary.stop()
        notarising.join(10)
        notary_reader.close()
        notary_pool.close()
        watchdog.close()
        leadership.close()
        new_events.close()
        checkpoint_notices.close()
        publisher.close()
        checkpoints.close()
        store.close()
    return EXIT_STALLED if watchdog.stall_reason is not None else 0


if __name__ == "__main__":
    sys.exit(main())
