"""The relay's checkpoint pushed to the projectors on the real PostgreSQL (ADR 0037): an announced position reaches
the listeners of its checkpoint name and schema, never goes back, and leaves other names and schemas alone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from tests.support.eventstore import isolated_schema
from tests.support.servers import Endpoints

from eventledger_runtime.eventlog.checkpoint_notice import PostgresCheckpointAnnouncer, PostgresCheckpointListener

NOTICE_WITHIN = 10.0  # generous: a notice takes about a millisecond; a missing one fails the test, never a slow one
NONE_WITHIN = 0.5


@pytest.fixture
def dsn(endpoints: Endpoints) -> Iterator[str]:
    with isolated_schema(endpoints.postgres_dsn) as schema_dsn:
        yield schema_dsn


def _eventually(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_an_announced_checkpoint_reaches_its_listeners_only_and_never_goes_back(endpoints: Endpoints, dsn: str) -> None:
    announcer = PostgresCheckpointAnnouncer(dsn)
    relay = PostgresCheckpointListener(dsn, "kafka-relay")
    other_name = PostgresCheckpointListener(dsn, "kafka-relay-2")
    with isolated_schema(endpoints.postgres_dsn) as other_dsn:
        other_schema = PostgresCheckpointListener(other_dsn, "kafka-relay")
        try:
            assert relay.latest() == 0
            announcer.announce("kafka-relay", 42)
            assert _eventually(lambda: relay.latest() == 42, NOTICE_WITHIN)
            announcer.announce("kafka-relay", 7)  # an older batch's (a relay that lost the lead) never lowers it
            announcer.announce("kafka-relay", 43)
            assert _eventually(lambda: relay.latest() == 43, NOTICE_WITHIN)
            assert not _eventually(lambda: other_name.latest() + other_schema.latest() > 0, NONE_WITHIN)
        finally:
            other_schema.close()
            other_name.close()
            relay.close()
            announcer.close()


def test_a_listener_waits_for_an_announcement_to_reach_a_position(dsn: str) -> None:
    # ADR 0040: a caught-up projector claims when the relay announces what it applied, instead of polling.
    announcer = PostgresCheckpointAnnouncer(dsn)
    listener = PostgresCheckpointListener(dsn, "kafka-relay")
    try:
        assert not listener.wait_for(5, NONE_WITHIN)
        announcer.announce("kafka-relay", 5)
        assert listener.wait_for(5, NOTICE_WITHIN)
        assert listener.wait_for(3, 0), "an earlier position was announced already"
    finally:
        listener.close()
        announcer.close()
