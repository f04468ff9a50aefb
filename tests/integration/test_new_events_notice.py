"""New-events notices on the real PostgreSQL (ADR 0021): an append wakes the relay instead of the relay polling.

The notice is sent after the append committed (an append inside an ``exclusive`` block when the block commits, none
for a block that rolled back), reaches listeners of the same schema only, and a relay that would otherwise look
only once an hour publishes at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from tests.support.eventstore import isolated_schema
from tests.support.kafka_checker import consume_all
from tests.support.ledger import credit, open_account
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS, account_stream_id
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.eventlog.notice import PostgresNewEventsAnnouncer, PostgresNewEventsListener
from eventledger_runtime.kafka import ensure_topics


class Refused(Exception):
    """A command refused inside its exclusive block, after its append."""


NOTICE_WITHIN = 10.0  # generous: a notice takes about a millisecond; a missing one fails the test, never a slow one
NONE_WITHIN = 0.3


@pytest.fixture
def dsn(endpoints: Endpoints) -> Iterator[str]:
    with isolated_schema(endpoints.postgres_dsn) as schema_dsn:
        yield schema_dsn


@pytest.fixture
def announcer(dsn: str) -> Iterator[PostgresNewEventsAnnouncer]:
    announcer = PostgresNewEventsAnnouncer(dsn)
    yield announcer
    announcer.close()


@pytest.fixture
def listener(dsn: str) -> Iterator[PostgresNewEventsListener]:
    listener = PostgresNewEventsListener(dsn)
    yield listener
    listener.close()


def test_an_append_wakes_the_listeners_of_its_schema_and_no_other(
    endpoints: Endpoints, dsn: str, announcer: PostgresNewEventsAnnouncer, listener: PostgresNewEventsListener
) -> None:
    store = PostgresEventStore(dsn, announcer=announcer)
    with isolated_schema(endpoints.postgres_dsn) as other_dsn:
        PostgresEventStore(other_dsn).close()
        other = PostgresNewEventsListener(other_dsn)
        try:
            store.append(AppendRequest((open_account(uuid.uuid4()),)))
            assert listener.wait(NOTICE_WITHIN)
            assert not other.wait(NONE_WITHIN), "another schema's log did not change"
            assert not listener.wait(NONE_WITHIN), "one append, one notice: it was consumed by the first wait"
        finally:
            other.close()
            store.close()


def test_an_append_inside_an_exclusive_block_is_announced_when_the_block_commits(
    dsn: str, announcer: PostgresNewEventsAnnouncer, listener: PostgresNewEventsListener
) -> None:
    store = PostgresEventStore(dsn, announcer=announcer)
    account_id = uuid.uuid4()
    try:
        with store.exclusive([account_stream_id(account_id)]):
            store.append(AppendRequest((open_account(account_id),)))
            assert not listener.wait(NONE_WITHIN), "not committed yet: a woken reader would find nothing"
        assert listener.wait(NOTICE_WITHIN)

        def refused_after_appending() -> None:
            with store.exclusive([account_stream_id(account_id)]):
                store.append(AppendRequest((credit(account_id, 1),)))
                raise Refused

        with pytest.raises(Refused):
            refused_after_appending()
        assert not listener.wait(NONE_WITHIN), "rolled back: nothing to announce"
        assert store.head_position() == 1
    finally:
        store.close()


def test_a_relay_that_would_look_once_an_hour_publishes_each_append_at_once(
    endpoints: Endpoints, dsn: str, announcer: PostgresNewEventsAnnouncer, listener: PostgresNewEventsListener
) -> None:
    namespace = f"notice-{uuid.uuid4().hex[:8]}."
    topics = [namespace + topic for topic in ALL_TOPICS]
    ensure_topics(endpoints.kafka_bootstrap, topics, partitions=4)
    store = PostgresEventStore(dsn, announcer=announcer)
    checkpoints = PostgresEventLogReader(dsn)
    publisher = KafkaEventPublisher(endpoints.kafka_bootstrap)
    hourly = RelayConfig(topic_namespace=namespace, idle_sleep_seconds=3600, max_idle_sleep_seconds=3600)
    relay = Relay(store, publisher, checkpoints, hourly, new_events=listener)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        accounts = [uuid.uuid4() for _ in range(3)]
        store.append(AppendRequest((open_account(accounts[0]),)))
        assert len(consume_all(endpoints.kafka_bootstrap, topics, expected=1, timeout=30)) == 1
        time.sleep(0.5)  # the relay found the log drained and waits for a notice (or an hour)
        for account_id in accounts[1:]:
            store.append(AppendRequest((open_account(account_id),)))
        delivered = consume_all(endpoints.kafka_bootstrap, topics, expected=3, timeout=30)
        assert sorted(d.key for d in delivered) == sorted(account_stream_id(a) for a in accounts)
    finally:
        relay.stop()
        announcer.announce()  # wake it from its hour
        thread.join(30)
        assert not thread.is_alive()
        publisher.close()
        checkpoints.close()
        store.close()
        admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
        for future in admin.delete_topics(topics).values():
            future.result(timeout=30)
