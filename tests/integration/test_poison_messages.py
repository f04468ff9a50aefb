"""No message stops a projector (issue 16): whatever is produced into a topic it reads (random bytes, truncated Avro,
an unknown schema fingerprint, a missing or malformed header, an oversized value, an event of an unknown type) goes to
the dead-letter topic with a reason, and a valid event produced after it is applied. Real Kafka and the real store of
each projector (PostgreSQL, Redis, Elasticsearch); hypothesis draws the poison, a few examples per run (each is real
I/O on shared servers)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.poison import PoisonMessage, poison_messages, valid_record
from tests.support.processes import wait_for
from tests.support.projection_rig import ScratchLedger, dead_letters, namespace_of, produce
from tests.support.servers import Endpoints

from eventledger_projections.bootstrap import PROJECTIONS, Projector, build_projector
from eventledger_projections.runtime.port import TopicPartition
from eventledger_runtime.settings import ProjectionSettings


@dataclass
class Worker:
    ledger: ScratchLedger
    projector: Projector
    thread: threading.Thread
    topics: tuple[str, ...]
    parked: int = 0

    def offsets(self) -> dict[TopicPartition, int]:
        return dict(self.projector.projection.load_offsets() or {})


@pytest.fixture(scope="module", params=sorted(PROJECTIONS))
def worker(request: pytest.FixtureRequest, endpoints: Endpoints) -> Iterator[Worker]:
    name: str = request.param
    with ScratchLedger.created(prefix=f"poison-{name}") as ledger:
        names = namespace_of(ledger.namespace)
        projection_settings = ProjectionSettings(
            namespace=names.value, batch_size=50, backoff_initial_seconds=0.01, progress_interval_seconds=0.1
        )
        projector = build_projector(name, projection_settings, ledger.settings)
        thread = threading.Thread(target=projector.runner.run, name=f"projector-{name}", daemon=True)
        thread.start()
        try:
            yield Worker(ledger, projector, thread, tuple(PROJECTIONS[name].topics))
        finally:
            projector.runner.stop()
            thread.join(30)
            projector.close()
            _clean(endpoints, names.redis_prefix, names.index_prefix)


def _clean(endpoints: Endpoints, redis_prefix: str, index_prefix: str) -> None:
    client = redis.Redis.from_url(endpoints.redis_url)
    keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    with contextlib.suppress(Exception):
        Elasticsearch(endpoints.elasticsearch_url).indices.delete(
            index=f"{index_prefix}*", expand_wildcards="all", ignore_unavailable=True
        )


@given(data=st.data())
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_a_poison_message_is_parked_with_a_reason_and_the_next_event_applied(
    worker: Worker, data: st.DataObject
) -> None:
    topic_suffix = data.draw(st.sampled_from(worker.topics), label="topic")
    poison: PoisonMessage = data.draw(poison_messages(topic_suffix), label="poison")
    ledger, topic = worker.ledger, worker.ledger.namespace + topic_suffix
    # The poison goes under the valid event's key, hence into its partition: the valid event is read after it.
    follower = valid_record(topic_suffix)
    produce(ledger.bootstrap, topic, follower.key, poison.value, list(poison.headers))
    produce(ledger.bootstrap, topic, follower.key, follower.value, [(n, bytes(v)) for n, v in follower.headers])
    worker.parked += 1
    parked = dead_letters(ledger.bootstrap, ledger.namespace, expected=worker.parked)
    assert len(parked) == worker.parked, f"{poison.kind} was not parked"
    # The dead-letter topic has several partitions: its messages come back in no global order.
    mine = [m for m in parked if (m["value"] or b"") == poison.value and m["headers"]["dlq-topic"] == topic]
    assert mine, f"{poison.kind}: not among the parked messages"
    assert mine[-1]["headers"]["dlq-reason"].startswith("undecodable:"), mine[-1]["headers"]["dlq-reason"]
    # Every message so far (a poison and its follower per example) is behind the checkpoint, and only the poisons were
    # parked: the follower was applied.
    wait_for(
        lambda: sum(worker.offsets().values()) >= 2 * worker.parked,
        60,
        f"the {worker.projector.name} projector to go on after {poison.kind}",
    )
    assert worker.thread.is_alive(), f"{poison.kind} stopped the {worker.projector.name} projector"
    assert len(dead_letters(ledger.bootstrap, ledger.namespace)) == worker.parked
