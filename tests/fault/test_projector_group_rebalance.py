"""Several projector processes of one read model share its consumer group, and rebalance under load (issue 10
item 2): two members project, a third joins, one of the first two is SIGKILLed at a random moment of a batch,
commands keep flowing throughout, and from the join on a second relay delivers every event again. Every rebalance
hands partitions over while batches are in flight; the new owner resumes from the offsets kept with the read model,
and an event applied already (by the old owner, or a second copy) must change nothing.

Then the read model equals a replay of the event store (for PostgreSQL and Redis the balances, statement entries
and the volume and posting counters, which a double effect would inflate; for Elasticsearch every transfer
document), and nothing was parked in the dead-letter topic. For each read model."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from tests.support.background import Repeatedly
from tests.support.elasticsearch_rig import assert_matches_event_store, drop_read_model
from tests.support.processes import wait_for
from tests.support.projection_rig import (
    ScratchLedger,
    Workload,
    assert_read_model_matches,
    dead_letters,
    namespace_of,
)
from tests.support.projector_group import ProjectorGroup, assignment, assignments
from tests.support.redis_rig import assert_redis_matches, delete_base
from tests.support.servers import Endpoints

from eventledger_projections.elasticsearch import IndexNames
from eventledger_projections.redis.connection import connect

PARTITIONS = 6
"""Both topics of a scratch ledger, three partitions each."""


@contextlib.contextmanager
def read_model_check(name: str, ledger: ScratchLedger) -> Iterator[Callable[[], int]]:
    """A check that read model ``name`` (of the ledger's namespace) equals a replay of the event store, answering how
    many rows, accounts or documents it compared; what the namespace made in Redis or Elasticsearch is deleted
    afterwards (the scratch ledger drops its database and topics itself)."""
    namespace = namespace_of(ledger.namespace)
    if name == "postgres":
        yield lambda: len(assert_read_model_matches(ledger.store, ledger.dsn).entries)
    elif name == "redis":
        client = connect(ledger.settings.redis_url)
        try:
            yield lambda: len(assert_redis_matches(ledger.store, client, namespace.redis_base).accounts)
        finally:
            delete_base(client, namespace.redis_base)
            client.close()
    else:
        es = Elasticsearch(ledger.settings.elasticsearch_url, request_timeout=30)
        names = IndexNames(namespace.index_prefix)
        try:
            yield lambda: assert_matches_event_store(es, names, ledger.dsn)
        finally:
            drop_read_model(es, names)
            es.close()


@pytest.mark.parametrize("name", ["postgres", "redis", "elasticsearch"])
def test_members_joining_and_dying_under_load_leave_no_loss_and_no_double_effect(
    name: str, endpoints: Endpoints, tmp_path: Path
) -> None:
    rng = random.Random(f"group-{name}")
    with (
        ScratchLedger.created(f"group-{name[:5]}", pool_size=2) as ledger,
        read_model_check(name, ledger) as matches,
    ):
        small_batches = {"EVENTLEDGER_PROJECTION_BATCH_SIZE": "20"}  # a hand-over more likely lands mid-batch
        group = ProjectorGroup(name, ledger.database, ledger.namespace, tmp_path, small_batches)
        workload = Workload(ledger.store, seed=rng.randrange(1000))
        with group.running(), ledger.relay(), contextlib.ExitStack() as later:
            first, second = group.add(2)
            with Repeatedly(lambda: workload.run(5), pause=0.05) as load:
                wait_for(lambda: group.reflected() > 0, 60, "the two members to project")
                [third] = group.add()
                # From now on every event is delivered twice (a second relay from position 0, as after a relay
                # failover): the copies reach members in the middle of the hand-overs below.
                later.enter_context(ledger.relay(checkpoint="again"))
                wait_for(lambda: bool(assignment(third)), 30, f"the third member's partitions:\n{third.log_tail()}")
                time.sleep(rng.uniform(1.0, 2.0))
                doomed = rng.choice([first, second])
                owned = assignment(doomed)
                assert owned, "the member killed owned partitions"
                doomed.kill()
                survivors = [m for m in (first, second, third) if m is not doomed]
                wait_for(
                    lambda: set().union(*(assignment(m) for m in survivors)) >= owned,
                    60,
                    "the survivors to take over the killed member's partitions",
                )
                time.sleep(1.0)
            assert not load.errors, load.errors
            group.wait_until_reflected(ledger.store.head_position(), 90)
        assert workload.accepted > 100
        assert all(assignments(m) >= 2 for m in survivors), "every survivor took part in a rebalance"
        assert len(set().union(*(assignment(m) for m in survivors))) == PARTITIONS
        assert matches() > 10
        assert dead_letters(ledger.bootstrap, ledger.namespace) == []
