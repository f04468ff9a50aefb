"""The relay loop with in-memory parts: order, checkpoint discipline, re-publication after a failure."""

from __future__ import annotations

import uuid

import pytest
from tests.support.ledger import credit, open_account

from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.publisher import InMemoryPublisher, PublishFailed
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ACCOUNTS_TOPIC
from eventledger_runtime.eventlog import InMemoryEventLog


def _store_with(accounts: int, credits_each: int) -> InMemoryEventStore:
    store = InMemoryEventStore()
    ids = [uuid.uuid4() for _ in range(accounts)]
    for account_id in ids:
        store.append(AppendRequest((open_account(account_id),)))
    for version in range(1, credits_each + 1):
        for account_id in ids:
            store.append(AppendRequest((credit(account_id, version),)))
    return store


def _stream_versions(publisher: InMemoryPublisher) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = {}
    for record in publisher.sent:
        version = int(dict(record.headers)["stream-version"])
        by_key.setdefault(record.key, []).append(version)
    return by_key


def test_everything_is_published_in_log_order_and_the_checkpoint_follows() -> None:
    store = _store_with(accounts=3, credits_each=4)
    publisher, checkpoints = InMemoryPublisher(), InMemoryEventLog()
    relay = Relay(store, publisher, checkpoints, RelayConfig(batch_size=5))
    while relay.run_once():
        pass
    positions = [int(dict(r.headers)["position"]) for r in publisher.sent]
    assert positions == list(range(1, 16))
    assert checkpoints.checkpoint("kafka-relay") == 15
    assert {r.topic for r in publisher.sent} == {ACCOUNTS_TOPIC}
    assert all(versions == [1, 2, 3, 4, 5] for versions in _stream_versions(publisher).values())
    headers = dict(publisher.sent[0].headers)
    correlation = headers["correlation-id"].decode().replace("-", "")
    span = headers["event-id"].decode().replace("-", "")[:16]
    assert headers["traceparent"].decode() == f"00-{correlation}-{span}-01"


def test_a_failed_batch_keeps_the_checkpoint_and_is_published_again() -> None:
    store = _store_with(accounts=2, credits_each=3)
    publisher, checkpoints = InMemoryPublisher(), InMemoryEventLog()
    relay = Relay(store, publisher, checkpoints, RelayConfig(batch_size=4))
    assert relay.run_once() == 4
    publisher.fail_next = 1
    with pytest.raises(PublishFailed, match="simulated"):
        relay.run_once()
    assert checkpoints.checkpoint("kafka-relay") == 4, "the checkpoint never moves past an unacknowledged event"
    while relay.run_once():
        pass
    assert checkpoints.checkpoint("kafka-relay") == 8
    # At least once: some events twice; per key, their first appearances are in stream order.
    for versions in _stream_versions(publisher).values():
        first_seen = list(dict.fromkeys(versions))
        assert first_seen == sorted(first_seen) == [1, 2, 3, 4]
    assert len(publisher.sent) > 8


def test_a_restarted_relay_resumes_from_its_checkpoint() -> None:
    store = _store_with(accounts=1, credits_each=5)
    checkpoints = InMemoryEventLog()
    first = InMemoryPublisher()
    Relay(store, first, checkpoints, RelayConfig(batch_size=3)).run_once()
    second = InMemoryPublisher()
    resumed = Relay(store, second, checkpoints, RelayConfig(batch_size=3))
    while resumed.run_once():
        pass
    assert [int(dict(r.headers)["position"]) for r in second.sent] == [4, 5, 6]


def test_a_topic_namespace_prefixes_every_topic() -> None:
    store = _store_with(accounts=1, credits_each=0)
    publisher = InMemoryPublisher()
    Relay(store, publisher, InMemoryEventLog(), RelayConfig(topic_namespace="test-1.")).run_once()
    assert [r.topic for r in publisher.sent] == ["test-1." + ACCOUNTS_TOPIC]


class _Announcements:
    """Records what the relay announces, with how much was acknowledged and saved at that moment."""

    def __init__(self, publisher: InMemoryPublisher, checkpoints: InMemoryEventLog) -> None:
        self.publisher, self.checkpoints = publisher, checkpoints
        self.seen: list[tuple[str, int, int, int]] = []

    def announce(self, name: str, position: int) -> None:
        self.seen.append((name, position, len(self.publisher.sent), self.checkpoints.checkpoint(name)))


def test_each_acknowledged_batch_is_announced_before_its_checkpoint_is_saved_and_a_failed_one_never() -> None:
    """ADR 0037: the projectors may claim a batch as soon as the broker acknowledged it, never before."""
    store = _store_with(accounts=2, credits_each=3)
    publisher, checkpoints = InMemoryPublisher(), InMemoryEventLog()
    notices = _Announcements(publisher, checkpoints)
    relay = Relay(store, publisher, checkpoints, RelayConfig(batch_size=4), checkpoint_notices=notices)
    assert relay.run_once() == 4
    publisher.fail_next = 1
    with pytest.raises(PublishFailed):
        relay.run_once()
    while relay.run_once():
        pass
    assert notices.seen[0] == ("kafka-relay", 4, 4, 0), "acknowledged (4 sent), not yet saved"
    assert [position for _, position, _, _ in notices.seen] == [4, 8]
    assert all(sent >= position for _, position, sent, _ in notices.seen)
