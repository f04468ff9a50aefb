"""The faust job on real Kafka and Redis, fed by the relay from a real event store: its window figures in Redis and
on the derived topic equal a count made by hand from the event store; redelivery, a SIGKILL and restart, and
poison messages change nothing of that."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.background import Repeatedly
from tests.support.poison import PoisonMessage, poison_messages
from tests.support.processes import free_port
from tests.support.projection_rig import (
    ScratchLedger,
    Workload,
    dead_letters,
    namespace_of,
    produce,
)
from tests.support.redis_rig import delete_base
from tests.support.servers import Endpoints
from tests.support.stream_rig import (
    DerivedTopicReader,
    StreamWorker,
    Windows,
    delete_namespace_topics,
    difference,
    expected_windows,
    redis_windows,
    wait_until,
    worker_env,
)

from eventledger_events import TRANSFERS_TOPIC
from eventledger_projections.redis.connection import connect
from eventledger_projections.streaming.publisher import DERIVED_TOPIC
from eventledger_runtime.kafka import ensure_topics


@dataclass
class Rig(ScratchLedger):
    base: str
    client: redis.Redis
    worker: StreamWorker
    derived: DerivedTopicReader

    def expected(self) -> Windows:
        return expected_windows(self.store.read_all(limit=10_000_000, wait=0))

    def wait_for_redis(self, timeout: float = 90.0) -> Windows:
        expected = self.expected()
        wait_until(
            lambda: redis_windows(self.client, self.base) == expected,
            timeout,
            "the Redis window figures to equal the event store",
            lambda: difference(expected, redis_windows(self.client, self.base)) + "\n" + self.worker.log_tail(),
        )
        return expected

    def counted(self, workload: Workload, commands: int) -> Windows:
        """Run ``commands`` through the relay; returns the figures once Redis and the derived topic both show them."""
        with self.relay():
            workload.run(commands)
            expected = self.wait_for_redis()
        self.wait_for_derived(expected)
        return expected

    def wait_for_derived(self, expected: Windows, timeout: float = 60.0) -> None:
        def reached() -> bool:
            self.derived.poll(1.0)
            return self.derived.windows() == expected

        wait_until(reached, timeout, "the derived topic", lambda: difference(expected, self.derived.windows()))


@pytest.fixture
def rig(endpoints: Endpoints, tmp_path: Path) -> Iterator[Rig]:
    with ScratchLedger.created("stream") as ledger:
        bootstrap, namespace = ledger.bootstrap, ledger.namespace
        base = namespace_of(namespace).redis_base  # what the worker derives from its namespace
        ensure_topics(bootstrap, [namespace + DERIVED_TOPIC], 3)
        client = connect(ledger.settings.redis_url)
        ops_port = free_port()
        env = worker_env(namespace, tmp_path / "faust", ops_port, ledger.database)
        worker = StreamWorker(env, tmp_path, ops_port)
        derived = DerivedTopicReader(bootstrap, namespace + DERIVED_TOPIC)
        worker.start()
        try:
            yield Rig(ledger.database, ledger.settings, namespace, ledger.store, base, client, worker, derived)
        finally:
            worker.stop()
            derived.close()
            delete_base(client, base)
            client.close()
            delete_namespace_topics(bootstrap, namespace)


def test_the_window_figures_in_redis_and_on_the_derived_topic_equal_a_count_of_the_event_store(rig: Rig) -> None:
    expected = rig.counted(Workload(rig.store, seed=41), 300)
    assert sum(n for (window, _, _), (n, _) in expected.items() if window == "tumbling-1m") > 100
    assert {currency for _, _, currency in expected} == {"EUR", "USD"}
    assert {window for window, _, _ in expected} == {"tumbling-1m", "hopping-5m-1m"}
    assert rig.client.zcard(f"{rig.base}:stream:dirty") == 0, "every change was published"
    status = subprocess.run(
        [sys.executable, "-m", "eventledger_projections", "status", "windows"],
        env=rig.worker.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "behind (messages): 0" in status.stdout, status.stdout + status.stderr
    assert "counted up to offset" in status.stdout, status.stdout


def test_delivering_every_event_twice_changes_no_figure(rig: Rig) -> None:
    expected = rig.counted(Workload(rig.store, seed=42), 150)
    counted = rig.worker.metric('eventledger_stream_events_total{outcome="counted"}')
    postings = sum(n for (window, _, _), (n, _) in expected.items() if window == "tumbling-1m")
    assert counted == postings
    with rig.relay(checkpoint="again") as again:
        head = rig.store.head_position()
        wait_until(lambda: again.position >= head, 60, "the second relay", lambda: str(again.position))
    wait_until(
        lambda: rig.worker.metric('eventledger_stream_events_total{outcome="counted"}') >= 2 * postings,
        60,
        "the job to read every duplicate",
        rig.worker.log_tail,
    )
    assert redis_windows(rig.client, rig.base) == expected
    rig.derived.poll(2.0)
    assert rig.derived.windows() == expected


def test_a_worker_killed_under_load_and_restarted_converges(rig: Rig) -> None:
    workload = Workload(rig.store, seed=43)
    with rig.relay():
        workload.run(100)
        wait_until(lambda: bool(redis_windows(rig.client, rig.base)), 90, "the first figures", rig.worker.log_tail)
        workload.run(100)
        rig.worker.kill()
        workload.run(100)
        rig.worker.start()
        expected = rig.wait_for_redis(timeout=120)
    rig.wait_for_derived(expected)
    assert rig.worker.starts == 2


def test_a_worker_killed_again_and_again_while_it_counts_converges(rig: Rig) -> None:
    """SIGKILL lands wherever it lands: mid-batch, between a count and an offset commit, while a restart's rebalance
    settles. Each restart resumes every partition from the progress in Redis; the figures must still come out exact
    (none lost, none twice). This found counts lost for good with the earlier faust-table design (ADR 0010 §6)."""
    workload = Workload(rig.store, seed=45)
    rng = random.Random(45)
    with rig.relay():
        workload.run(60)
        with Repeatedly(lambda: workload.run(10), name="workload") as load:
            for _ in range(KILLS):
                wait_until(lambda: _counted(rig.worker) > 0, 90, "the job counting again", rig.worker.log_tail)
                time.sleep(rng.uniform(0.2, 2.0))
                rig.worker.kill()
                rig.worker.start()
        assert not load.errors, load.errors
        expected = rig.wait_for_redis(timeout=120)
    rig.wait_for_derived(expected)
    assert rig.worker.starts == KILLS + 1


KILLS = 5


STOP_WITHIN_SECONDS = 30


def test_sigterm_under_load_stops_the_worker_cleanly_and_the_figures_stay_exact(rig: Rig) -> None:
    """Issue 10 item 5: told to stop while it counts, a worker stops faust cleanly and exits 0; every count it made
    is in Redis with its partition's progress (one script call each), so its successor goes on from there."""
    workload = Workload(rig.store, seed=47)
    with rig.relay():
        workload.run(60)
        wait_until(lambda: _counted(rig.worker) > 0, 90, "the job counting", rig.worker.log_tail)
        with Repeatedly(lambda: workload.run(10), name="workload") as load:
            time.sleep(1.0)
            process = rig.worker.process
            assert process is not None
            process.terminate()
            code = process.wait(STOP_WITHIN_SECONDS)
        assert not load.errors, load.errors
        assert code == 0, rig.worker.log_tail()
        rig.worker.start()
        expected = rig.wait_for_redis(timeout=120)
    rig.wait_for_derived(expected)


@given(data=st.data())
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_any_poison_message_is_parked_with_a_reason_and_the_figures_stay_exact(rig: Rig, data: st.DataObject) -> None:
    """Issue 16: whatever is produced into the transfers topic (random bytes, truncated Avro, an unknown schema
    fingerprint, a missing or malformed header, an oversized value, an event of an unknown type) is parked with a
    reason, the worker lives, and the postings the relay publishes after it are counted exactly. One worker for
    every example (hypothesis runs them in one call), so each example's poison lands behind the last one's."""
    poison: PoisonMessage = data.draw(poison_messages(TRANSFERS_TOPIC), label="poison")
    topic = rig.namespace + TRANSFERS_TOPIC
    before = len(dead_letters(rig.bootstrap, rig.namespace))
    produce(rig.bootstrap, topic, poison.key, poison.value, list(poison.headers))
    with rig.relay():
        Workload(rig.store, seed=data.draw(st.integers(0, 2**16), label="seed")).run(20)
        expected = rig.wait_for_redis()
    parked = dead_letters(rig.bootstrap, rig.namespace, expected=before + 1)
    assert len(parked) == before + 1, f"{poison.kind} was not parked"
    mine = [p for p in parked if (p["value"] or b"") == poison.value]
    assert mine, f"{poison.kind}: not among the parked messages"
    assert mine[-1]["headers"]["dlq-projection"] == "stream-windows"
    assert mine[-1]["headers"]["dlq-reason"].startswith("undecodable"), mine[-1]["headers"]["dlq-reason"]
    assert rig.worker.alive(), f"{poison.kind} stopped the stream job"
    assert redis_windows(rig.client, rig.base) == expected


def _counted(worker: StreamWorker) -> float:
    try:
        return worker.metric('eventledger_stream_events_total{outcome="counted"}')
    except OSError:  # not serving yet (just restarted)
        return -1.0


def test_figures_redis_lost_are_counted_again_from_kafka_once_traffic_resumes(rig: Rig) -> None:
    """The group's committed offsets are at the end of the topic, but Redis holds nothing: the first message read
    after the restart shows the gap, and the job reads its partition again from the beginning."""
    workload = Workload(rig.store, seed=46)
    with rig.relay():
        workload.run(150)
        rig.wait_for_redis()
        rig.worker.stop()
        delete_base(rig.client, rig.base)
        rig.worker.start()
        workload.run(60)  # enough to reach every partition
        rig.wait_for_redis()
    assert rig.worker.metric("eventledger_stream_gap_messages_total") > 0


def test_poison_messages_are_parked_and_the_job_goes_on(rig: Rig) -> None:
    workload = Workload(rig.store, seed=44)
    producer = Producer({"bootstrap.servers": rig.bootstrap, "acks": "all", "enable.idempotence": True})
    topic = rig.namespace + TRANSFERS_TOPIC
    producer.produce(topic, key=b"transfer-x", value=b"\x01garbage", headers=[("event-id", b"nope")])
    producer.produce(topic, key=None, value=None)
    assert producer.flush(30) == 0
    with rig.relay():
        workload.run(100)
        expected = rig.wait_for_redis()
    parked = dead_letters(rig.bootstrap, rig.namespace, expected=2)
    assert len(parked) == 2
    assert {p["headers"]["dlq-projection"] for p in parked} == {"stream-windows"}
    assert all(p["headers"]["dlq-reason"].startswith("undecodable") for p in parked)
    assert {p["value"] for p in parked} == {b"\x01garbage", b""}, "a message without key and value is parked empty"
    assert rig.worker.alive()
    assert redis_windows(rig.client, rig.base) == expected
