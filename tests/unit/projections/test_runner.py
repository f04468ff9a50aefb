"""The runner's guarantees with in-memory parts: every event takes effect once, Kafka offsets follow the store,
poison events are isolated and parked while the projection goes on, pause/resume, and position claims."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pytest
from tests.support.projection_fakes import InMemoryBalances, InMemoryCredits, Ledger

from eventledger_events import (
    ACCOUNTS_TOPIC,
    ALL_TOPICS,
    AccountOpened,
    AccountOpenedV1,
    InMemorySchemaRegistry,
    SchemaRegistryUnavailableError,
    account_stream_id,
    default_avro_catalog,
    register_schemas,
)
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.runtime.memory import InMemoryBroker, InMemoryDeadLetters, InMemoryEventLog
from eventledger_projections.runtime.port import Applicable, LogMessage, OffsetsMoved, TopicPartition
from eventledger_projections.runtime.runner import EAGER_REFRESHES, ProjectionRunner, RunnerConfig

FAST = RunnerConfig(batch_size=40, max_attempts=3, backoff_initial=0.0005, backoff_max=0.001, progress_interval=0)


@dataclass
class Rig:
    broker: InMemoryBroker
    ledger: Ledger
    projection: InMemoryBalances
    event_log: InMemoryEventLog
    dead_letters: InMemoryDeadLetters
    runner: ProjectionRunner

    def drain(self, limit: int = 1000) -> None:
        for _ in range(limit):
            if self.runner.run_once() == 0:
                return
        raise AssertionError("the runner never drained the log")

    def restart(self, config: RunnerConfig = FAST) -> None:
        """A new process: a new consumer in the same group, the same store."""
        self.event_log = InMemoryEventLog(self.broker, "group")
        self.runner = ProjectionRunner(
            self.projection, self.event_log, self.dead_letters, lambda: self.ledger.position, config
        )

    def high_watermarks(self) -> dict[tuple[str, int], int]:
        partitions = self.broker.partitions(ALL_TOPICS)
        return {tp: self.broker.high_watermark(tp) for tp in partitions if self.broker.high_watermark(tp)}


def make_rig(projection: InMemoryBalances | None = None, config: RunnerConfig = FAST) -> Rig:
    broker = InMemoryBroker(partitions=3)
    for topic in ALL_TOPICS:
        broker.create_topic(topic)
    ledger = Ledger(broker)
    projection = projection or InMemoryBalances()
    event_log = InMemoryEventLog(broker, "group")
    dead_letters = InMemoryDeadLetters(broker)
    runner = ProjectionRunner(projection, event_log, dead_letters, lambda: ledger.position, config)
    return Rig(broker, ledger, projection, event_log, dead_letters, runner)


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def _workload(ledger: Ledger, accounts: int = 6, credits: int = 10) -> dict[str, int]:
    """Opens accounts and credits them; answers the expected balance per stream."""
    ids = [ledger.open() for _ in range(accounts)]
    expected = {account_stream_id(a): 0 for a in ids}
    for n in range(credits):
        for account_id in ids:
            stream = account_stream_id(account_id)
            expected[stream] += n + 1
            ledger.credit(account_id, n + 1, expected[stream])
    return expected


def test_every_event_takes_effect_once_and_kafka_offsets_follow_the_store(rig: Rig) -> None:
    expected = _workload(rig.ledger)
    rig.drain()
    assert rig.projection.balances == expected
    assert not rig.projection.double_effects()
    assert len(rig.projection.effects) == rig.ledger.position
    assert rig.broker.committed["group"] == rig.high_watermarks()
    assert rig.projection.reflected_position() == rig.ledger.position
    assert rig.dead_letters.parked == []


def test_delivering_every_event_twice_changes_nothing(rig: Rig) -> None:
    expected = _workload(rig.ledger, accounts=4, credits=5)
    for message in rig.broker.messages(ACCOUNTS_TOPIC):
        rig.broker.produce(message.topic, message.key, message.value, message.headers)
    rig.drain()
    assert rig.projection.balances == expected
    assert not rig.projection.double_effects()


def test_an_undecodable_message_is_parked_at_once_with_its_headers_and_the_projection_goes_on(rig: Rig) -> None:
    progress_when_parked: list[int] = []

    class Recording(InMemoryDeadLetters):
        def park(self, message: LogMessage, *, projection: str, reason: str) -> None:
            progress_when_parked.append(rig.projection.partitions[message.topic_partition].next_offset)
            super().park(message, projection=projection, reason=reason)

    rig.dead_letters = Recording(rig.broker)
    rig.restart()
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 5, 5)
    key = account_stream_id(account_id).encode()
    bad = rig.broker.produce(ACCOUNTS_TOPIC, key, b"\x00not avro", (("event-id", b"abc"), ("event-type", b"?")))
    rig.ledger.credit(account_id, 7, 12)
    rig.drain()

    assert rig.projection.balances == {account_stream_id(account_id): 12}
    [parked] = rig.dead_letters.parked
    assert parked.value == b"\x00not avro"
    assert parked.key == key
    headers = {name: (value or b"").decode() for name, value in parked.headers}
    assert headers["event-id"] == "abc", "the original headers travel with the message"
    assert headers["dlq-reason"].startswith("undecodable:")
    assert headers["dlq-projection"] == "balances"
    assert (headers["dlq-topic"], headers["dlq-partition"], headers["dlq-offset"]) == (
        bad.topic,
        str(bad.partition),
        str(bad.offset),
    )
    assert progress_when_parked == [bad.offset], "everything before it was applied before it was parked"
    assert rig.projection.apply_calls <= 3, "the events around it were applied, nothing was retried"
    assert rig.projection.partitions[bad.topic_partition].dead_letters == 1
    assert rig.broker.committed["group"][bad.topic_partition] == bad.offset + 2


def _undated(message: LogMessage) -> tuple[tuple[str, bytes | None], ...]:
    return tuple((n, b"no date" if n == "occurred-at" else v) for n, v in message.headers)


def _opening(ledger: Ledger) -> LogMessage:
    account_id = uuid.uuid4()
    payload = AccountOpened(account_id=account_id, holder_name="Passed By", currency="EUR")
    return ledger.append(account_stream_id(account_id), payload)


def test_events_of_types_a_projection_does_not_use_are_never_decoded_yet_move_its_progress() -> None:
    """ADR 0022: a projection naming its ``event_types`` gets the others as passed events (headers only)."""
    rig = make_rig(InMemoryCredits())
    expected = _workload(rig.ledger, accounts=3, credits=2)
    opened = _opening(rig.ledger)
    # The same opening with a date that is no date: its headers and its Avro body say what it is, so it is passed
    # without being decoded (a projection using every type decodes it, and parks it: the next test but one).
    undated = rig.broker.produce(opened.topic, opened.key, opened.value, _undated(opened))
    rig.drain()

    assert rig.projection.balances == expected
    assert rig.projection.passed == 3 + 1 + 1, "the openings, the undated one too, were passed"
    assert rig.dead_letters.parked == []
    assert rig.broker.committed["group"] == rig.high_watermarks()
    assert rig.projection.partitions[undated.topic_partition].next_offset == undated.offset + 1
    assert rig.projection.reflected_position() == rig.ledger.position


def test_a_message_that_does_not_say_what_it_is_is_decoded_and_parked_even_by_a_projection_naming_its_types() -> None:
    rig = make_rig(InMemoryCredits())
    opened = _opening(rig.ledger)
    credited = rig.ledger.credit(uuid.uuid4(), 5, 5)
    cut = (opened.value or b"")[:12]

    def headers(drop: str = "", **replace: bytes) -> tuple[tuple[str, bytes | None], ...]:
        renamed = {name.replace("_", "-"): value for name, value in replace.items()}
        return tuple((name, renamed.get(name, value)) for name, value in opened.headers if name != drop)

    poisons = {
        "a used type": ((credited.value or b"")[:12], credited.headers),
        "an unknown type": (cut, headers(event_type=b"account.zzopened")),
        "no type": (cut, headers(drop="event-type")),
        "no position": (cut, headers(drop="position")),
        "a position that is not one": (cut, headers(position=b"three")),
        "a fingerprint of another type": ((credited.value or b"")[:12], opened.headers),
        "not Avro": (b"\x00not avro", opened.headers),
        "a cut body": (cut, opened.headers),
        "bytes after the body": ((opened.value or b"") + bytes(8), opened.headers),
        "no event id": (opened.value, headers(drop="event-id")),
        "a header that is not text": (opened.value, headers(actor=b"\xff")),
    }
    for value, poison_headers in poisons.values():
        rig.broker.produce(opened.topic, opened.key, value, poison_headers)
    rig.drain()
    assert len(rig.dead_letters.parked) == len(poisons), [p.headers for p in rig.dead_letters.parked]
    assert rig.projection.passed == 1, "only the valid opening was passed"


def test_a_projection_using_every_type_decodes_and_parks_what_another_passes(rig: Rig) -> None:
    opened = _opening(rig.ledger)
    rig.broker.produce(opened.topic, opened.key, opened.value, _undated(opened))
    rig.drain()
    assert len(rig.dead_letters.parked) == 1
    assert rig.projection.passed == 0


def test_an_event_that_keeps_failing_is_isolated_by_bisection_and_parked_alone(rig: Rig) -> None:
    account_id = rig.ledger.open()
    messages: list[LogMessage] = [rig.ledger.credit(account_id, 1, n + 1) for n in range(30)]
    poison = rig.ledger.envelopes[17]
    rig.projection.poison.add(poison.event_id)
    rig.drain()

    [parked] = rig.dead_letters.parked
    headers = {name: (value or b"").decode() for name, value in parked.headers}
    assert headers["event-id"] == str(poison.event_id)
    assert "ValueError" in headers["dlq-reason"]
    assert "cannot apply" in headers["dlq-reason"]
    assert parked.value == messages[16].value
    assert len(rig.projection.effects) == 30, "every other event took effect"
    assert rig.projection.balances == {account_stream_id(account_id): 30}
    # 3 attempts of the whole batch, one try per half on the way down, 3 attempts of the event alone.
    assert rig.projection.apply_calls <= 3 + 2 * 5 + 3
    assert rig.projection.reflected_position() == rig.ledger.position, "a parked event does not hold it back"


def test_a_store_outage_is_retried_and_never_parks_anything(rig: Rig) -> None:
    expected = _workload(rig.ledger, accounts=3, credits=3)
    rig.projection.unavailable_for = 12
    rig.drain()
    assert rig.projection.balances == expected
    assert rig.dead_letters.parked == []


def test_the_checkpoint_never_passes_a_message_the_dead_letter_topic_has_not_taken() -> None:
    rig = make_rig()

    class DownDeadLetters(InMemoryDeadLetters):
        def park(self, message: LogMessage, *, projection: str, reason: str) -> None:
            rig.runner.stop()
            raise ConnectionError("dead-letter topic down")

    rig.dead_letters = DownDeadLetters(rig.broker)
    rig.restart()
    account_id = rig.ledger.open()
    bad = rig.broker.produce(ACCOUNTS_TOPIC, account_stream_id(account_id).encode(), b"junk")
    rig.ledger.credit(account_id, 1, 1)
    rig.runner.run()

    assert rig.event_log.closed
    assert rig.broker.committed.get("group", {}).get(bad.topic_partition, 0) <= bad.offset
    assert rig.projection.partitions[bad.topic_partition].next_offset <= bad.offset

    rig.dead_letters = InMemoryDeadLetters(rig.broker)
    rig.restart()
    rig.drain()
    assert len(rig.dead_letters.parked) == 1
    assert rig.projection.balances == {account_stream_id(account_id): 1}


def test_a_crash_between_the_store_write_and_the_commit_leaves_no_double_effect() -> None:
    class Crash(Exception):
        pass

    def crash(batch: int) -> None:
        raise Crash(batch)

    rig = make_rig(config=RunnerConfig(**{**FAST.__dict__, "after_store_write": crash, "batch_size": 25}))
    expected = _workload(rig.ledger, accounts=5, credits=8)
    with pytest.raises(Crash):
        rig.drain()
    assert rig.broker.committed.get("group", {}) == {}, "the crash came before any Kafka commit"
    assert rig.projection.effects, "but after the store write"

    rig.restart()
    rig.drain()
    assert rig.projection.balances == expected
    assert not rig.projection.double_effects()


def test_without_stored_offsets_the_runner_resumes_from_committed_offsets() -> None:
    rig = make_rig(InMemoryBalances(keeps_offsets=False))
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 3, 3)
    rig.drain()
    calls = rig.projection.apply_calls
    rig.restart()
    rig.ledger.credit(account_id, 4, 7)
    rig.drain()
    assert rig.projection.apply_calls == calls + 1, "only the new event was read again"
    assert rig.projection.balances == {account_stream_id(account_id): 7}


def test_pause_stops_applying_between_batches_and_resume_goes_on(rig: Rig) -> None:
    account_id = rig.ledger.open()
    rig.drain()
    rig.runner.pause()
    rig.ledger.credit(account_id, 9, 9)
    for _ in range(5):
        rig.runner.run_once()
    assert rig.projection.balances == {account_stream_id(account_id): 0}
    assert rig.runner.paused
    rig.runner.resume()
    rig.drain()
    assert rig.projection.balances == {account_stream_id(account_id): 9}


def test_a_version_switch_makes_the_runner_seek_to_the_new_offsets(rig: Rig) -> None:
    expected = _workload(rig.ledger, accounts=3, credits=4)
    rig.drain()

    class Switched(InMemoryBalances):
        """A store whose live version changed: fresh rows, no offsets (it reads everything again)."""

        switched = False

        def apply(self, batch):
            if not self.switched:
                self.switched = True
                raise OffsetsMoved("switched")
            super().apply(batch)

    fresh = Switched()
    rig.projection = fresh
    rig.restart()
    rig.event_log.commit(rig.high_watermarks())  # Kafka's own offsets say "all done": they are not authoritative
    rig.ledger.credit(uuid.UUID(rig.ledger.envelopes[0].stream_id.removeprefix("account-")), 1, 999)
    rig.drain()
    assert fresh.switched
    assert len(fresh.effects) == rig.ledger.position, "the new version read everything from its own offsets"
    stream = rig.ledger.envelopes[0].stream_id
    assert fresh.balances == {**expected, stream: 999}


def _applied_prefix(rig: Rig) -> int:
    """The highest P such that every event at or below P took effect."""
    applied = {e.position for e in rig.ledger.envelopes if e.event_id in rig.projection.effects}
    prefix = 0
    while prefix + 1 in applied:
        prefix += 1
    return prefix


def test_the_reflected_position_is_never_ahead_of_what_is_applied() -> None:
    rig = make_rig(config=RunnerConfig(**{**FAST.__dict__, "batch_size": 7}))
    _workload(rig.ledger, accounts=9, credits=6)
    rig.runner.start()
    assert rig.projection.reflected_position() == 0, "declared partitions that were never read hold it at 0"
    while rig.runner.run_once():
        assert rig.projection.reflected_position() <= _applied_prefix(rig)
    rig.runner.refresh_progress()
    assert rig.projection.reflected_position() == rig.ledger.position


def test_empty_partitions_count_as_caught_up(rig: Rig) -> None:
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 1, 1)
    rig.drain()
    rig.runner.refresh_progress()
    empty = [tp for tp in rig.broker.partitions(ALL_TOPICS) if rig.broker.high_watermark(tp) == 0]
    assert len(empty) == 5
    assert rig.projection.reflected_position() == 2


def test_the_dead_letter_topic_is_one_topic_for_every_projection() -> None:
    assert DEAD_LETTER_TOPIC == "eventledger.deadletter.v1"


class _CountingLog(InMemoryEventLog):
    """Counts the position refreshes (each asks for the high watermarks) and records the consumer's waits."""

    refreshes = 0
    timeouts: list[float]

    def high_watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        self.refreshes += 1
        return super().high_watermarks(partitions)

    def consume(self, max_messages: int, timeout: float) -> list[LogMessage]:
        self.timeouts.append(timeout)
        return super().consume(max_messages, timeout)


PUSH = RunnerConfig(batch_size=40, progress_interval=3600.0, eager_progress_interval=0.0)
"""A regular refresh never comes due in a test; an eager one at once."""


def _push_rig(relay_position: Callable[[], int] | None = None) -> tuple[Rig, _CountingLog]:
    rig = make_rig(config=PUSH)
    counting = _CountingLog(rig.broker, "group")
    counting.timeouts = []
    rig.event_log = counting
    rig.runner = ProjectionRunner(
        rig.projection, counting, rig.dead_letters, relay_position or (lambda: rig.ledger.position), PUSH
    )
    rig.runner.start()
    return rig, counting


def test_a_caught_up_runner_makes_what_it_applied_visible_at_once_without_waiting_for_the_regular_refresh() -> None:
    rig, counting = _push_rig()
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 5, 5)  # one partition: the others need the refresh to claim the position
    assert rig.runner.run_once() == 2
    assert rig.projection.reflected_position() == rig.ledger.position == 2
    refreshes = counting.refreshes
    assert rig.runner.run_once() == 0
    assert counting.refreshes == refreshes, "reflected: back to the regular interval"
    assert counting.timeouts[-1] == PUSH.poll_timeout


def test_a_runner_with_a_backlog_keeps_the_regular_refresh() -> None:
    rig, counting = _push_rig()
    account_id = rig.ledger.open()
    for n in range(1, 60):
        rig.ledger.credit(account_id, 1, n)
    refreshes = counting.refreshes
    assert rig.runner.run_once() == PUSH.batch_size, "a full batch: there is more to read"
    assert counting.refreshes == refreshes
    assert rig.runner.run_once() == 60 - PUSH.batch_size
    assert counting.refreshes == refreshes + 1, "caught up again: refreshed at once"


def test_eager_refreshes_stop_when_the_position_cannot_be_claimed_yet() -> None:
    """The relay's checkpoint lags (or a partition another member holds stays behind): a bounded number of eager
    refreshes, then the regular interval."""
    rig, counting = _push_rig(relay_position=lambda: 0)
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 5, 5)
    refreshes = counting.refreshes
    assert rig.runner.run_once() == 2
    for _ in range(EAGER_REFRESHES + 5):
        eager_due = counting.refreshes - refreshes < EAGER_REFRESHES
        rig.runner.run_once()
        if eager_due:
            assert counting.timeouts[-1] == 0.0, "while an eager refresh is due, the consumer does not wait past it"
    assert rig.projection.reflected_position() < rig.ledger.position
    assert counting.refreshes == refreshes + EAGER_REFRESHES


def test_a_schema_registry_outage_is_waited_out_and_never_parks_anything(
    in_memory_schema_registry: InMemorySchemaRegistry,
) -> None:
    """Wire-format messages (ADR 0028) whose schema the registry cannot tell yet are neither applied nor parked: the
    batch is retried, then rewound, and applied once the registry answers."""
    outage = {"calls": 0}

    class Flaky(InMemorySchemaRegistry):
        def schema(self, schema_id: int) -> str:
            outage["calls"] += 1
            if outage["calls"] <= 8:
                raise SchemaRegistryUnavailableError("connection refused")
            return in_memory_schema_registry.schema(schema_id)

    rig = make_rig()
    rig.ledger.schema_ids = register_schemas(in_memory_schema_registry)
    default_avro_catalog().attach_registry(Flaky())
    expected = _workload(rig.ledger, accounts=2, credits=2)
    rig.drain()
    assert outage["calls"] > 8
    assert rig.projection.balances == expected
    assert rig.dead_letters.parked == []


class _RecordReader(InMemoryBalances):
    """Reads records (ADR 0037) and remembers what kind of event each applied one was."""

    reads_records = True

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def apply(self, batch: Sequence[Applicable]) -> None:
        super().apply(batch)
        self.kinds.extend(type(event).__name__ for event in batch)


def test_a_projection_reading_records_gets_current_events_as_records_and_older_versions_decoded() -> None:
    rig = make_rig(_RecordReader())
    opened = _opening(rig.ledger)
    legacy_id = uuid.uuid4()
    rig.ledger.append(
        account_stream_id(legacy_id), AccountOpenedV1(account_id=legacy_id, holder_name="Old", currency="EUR")
    )
    rig.broker.produce(opened.topic, opened.key, (opened.value or b"")[:12], opened.headers)  # a cut body: poison
    rig.drain()
    assert isinstance(rig.projection, _RecordReader)
    assert sorted(rig.projection.kinds) == ["ConsumedEvent", "RecordEvent"]
    assert len(rig.dead_letters.parked) == 1
    assert rig.broker.committed["group"] == rig.high_watermarks()


class _ClaimingBalances(InMemoryBalances):
    """Answers its reflected position from the claim (ADR 0040), and counts the separate reads of it."""

    reads = 0

    def claim(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> int:
        self.mark_caught_up(relay_position, high_watermarks)
        return super().reflected_position()

    def reflected_position(self) -> int:
        self.reads += 1
        return super().reflected_position()


def test_a_position_refresh_takes_the_reflected_position_from_the_claim_without_reading_it_again() -> None:
    projection = _ClaimingBalances()
    rig = make_rig(projection)
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 5, 5)
    rig.drain()
    assert rig.runner.refresh_progress()
    assert rig.runner.reflected == rig.ledger.position
    assert projection.reads == 0


def test_a_caught_up_runner_waits_for_the_relay_to_announce_what_it_applied_before_it_claims() -> None:
    rig = make_rig(config=PUSH)
    waits: list[tuple[int, float, int]] = []

    def wait_for_relay(position: int, timeout: float) -> bool:
        waits.append((position, timeout, rig.runner.reflected))
        return True

    rig.runner = ProjectionRunner(
        rig.projection, rig.event_log, rig.dead_letters, lambda: rig.ledger.position, PUSH, wait_for_relay
    )
    rig.runner.start()
    assert waits == [], "nothing applied: no wait"
    account_id = rig.ledger.open()
    rig.ledger.credit(account_id, 5, 5)
    assert rig.runner.run_once() == 2
    assert waits == [(2, PUSH.announcement_wait, 0)], "waited for position 2 before the claim"
    assert rig.runner.reflected == 2
    rig.runner.run_once()
    assert len(waits) == 1, "reflected: no more waits"
