"""Leader election and fencing of the relay loop, with in-memory parts (ADR 0016): one leader publishes, standbys
publish nothing, a leader that lost its lock without noticing publishes at most its batch in hand and never moves the
checkpoint again."""

from __future__ import annotations

import uuid

import pytest
from tests.support.ledger import credit, open_account

from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.leadership import InMemoryLeadership, InMemoryLockTable, lock_key
from eventledger_command.relay.publisher import InMemoryPublisher
from eventledger_command.relay.relay import TERM_HEADER, LeadershipLost, Relay, RelayConfig
from eventledger_runtime.eventlog import Deposed, InMemoryEventLog

NAME = "kafka-relay"


def _store(credits: int) -> tuple[InMemoryEventStore, uuid.UUID]:
    store = InMemoryEventStore()
    account_id = uuid.uuid4()
    store.append(AppendRequest((open_account(account_id),)))
    for version in range(1, credits + 1):
        store.append(AppendRequest((credit(account_id, version),)))
    return store, account_id


def _positions(publisher: InMemoryPublisher) -> list[int]:
    return [int(dict(r.headers)["position"]) for r in publisher.sent]


def _terms(publisher: InMemoryPublisher) -> set[int]:
    return {int(dict(r.headers)[TERM_HEADER]) for r in publisher.sent}


class Pair:
    def __init__(self, credits: int, batch_size: int = 3) -> None:
        self.store, self.account_id = _store(credits)
        self.checkpoints = InMemoryEventLog()
        self.table = InMemoryLockTable()
        config = RelayConfig(batch_size=batch_size)
        self.locks = [InMemoryLeadership(self.table), InMemoryLeadership(self.table)]
        self.publishers = [InMemoryPublisher(), InMemoryPublisher()]
        self.relays = [
            Relay(self.store, publisher, self.checkpoints, config, lock)
            for publisher, lock in zip(self.publishers, self.locks, strict=True)
        ]


def test_only_the_lock_holder_leads_and_standbys_publish_nothing() -> None:
    pair = Pair(credits=8)
    a, b = pair.relays
    assert a.campaign()
    assert not b.campaign()
    assert (a.role, a.term, b.role, b.term) == ("leader", 1, "standby", None)
    while a.run_once():
        pass
    assert b.run_once() == 0
    assert _positions(pair.publishers[0]) == list(range(1, 10))
    assert pair.publishers[1].sent == []
    assert _terms(pair.publishers[0]) == {1}
    assert pair.checkpoints.checkpoint(NAME) == 9


def test_a_standby_takes_over_from_the_checkpoint_when_the_leader_is_gone() -> None:
    pair = Pair(credits=8)
    a, b = pair.relays
    a.campaign()
    a.run_once()
    pair.locks[0].lose(noticed=True)  # the leader's session ended (it died, or its backend was terminated)
    with pytest.raises(LeadershipLost):
        a.run_once()
    a.step_down("lost")
    assert b.campaign()
    assert b.term == 2
    assert b.position == 3
    while b.run_once():
        pass
    assert _positions(pair.publishers[0]) == [1, 2, 3], "the old leader published nothing after its lock was gone"
    assert _positions(pair.publishers[1]) == list(range(4, 10))
    assert pair.checkpoints.checkpoint(NAME) == 9


def test_a_deposed_leader_publishes_at_most_its_batch_in_hand_and_never_moves_the_checkpoint() -> None:
    pair = Pair(credits=12)
    a, b = pair.relays
    a.campaign()
    a.run_once()  # 1..3 published, checkpoint 3
    pair.locks[0].lose(noticed=False)  # a cut connection: the old leader still believes it leads
    assert b.campaign()
    assert b.term == 2
    b.run_once()  # 4..6 under term 2, checkpoint 6
    with pytest.raises(Deposed):
        a.run_once()  # its batch in hand (4..6 again) goes out, the fenced save fails
    assert pair.checkpoints.checkpoint(NAME) == 6
    a.step_down("deposed")
    assert not a.campaign(), "the leadership is b's"
    while b.run_once() or a.run_once():
        pass
    assert _positions(pair.publishers[0]) == [1, 2, 3, 4, 5, 6], "one batch of overlap, then silence"
    assert _terms(pair.publishers[0]) == {1}
    assert _positions(pair.publishers[1]) == list(range(4, 14))
    assert pair.checkpoints.checkpoint(NAME) == 13


def test_a_save_under_a_term_that_is_over_changes_nothing() -> None:
    log = InMemoryEventLog()
    assert log.take_office(NAME) == (1, 0)
    log.save_checkpoint(NAME, 5, term=1)
    assert log.take_office(NAME) == (2, 5)
    with pytest.raises(Deposed):
        log.save_checkpoint(NAME, 9, term=1)
    assert log.checkpoint(NAME) == 5
    log.save_checkpoint(NAME, 9, term=2)
    log.save_checkpoint(NAME, 7, term=2)
    assert log.checkpoint(NAME) == 9, "a fenced save never moves the checkpoint backwards either"


def test_a_relay_without_leadership_leads_alone_and_unfenced() -> None:
    store, _ = _store(credits=2)
    publisher = InMemoryPublisher()
    relay = Relay(store, publisher, InMemoryEventLog(), RelayConfig())
    assert relay.role == "leader"
    assert relay.term is None
    relay.run_once()
    assert all(TERM_HEADER not in dict(r.headers) for r in publisher.sent)


def test_lock_keys_differ_by_namespace_schema_and_name() -> None:
    keys = {
        lock_key("", "public", NAME),
        lock_key("ns", "public", NAME),
        lock_key("", "other", NAME),
        lock_key("", "public", "other-checkpoint"),
    }
    assert len(keys) == 4
    assert all(-(2**63) <= key < 2**63 for key in keys)
