"""The two caches of the writer: holder names (immutable once opened) and states of pending transfers."""

from __future__ import annotations

import uuid

from tests.support.ledger import ada_and_alan

from eventledger_projections.elasticsearch.documents import fold
from eventledger_projections.elasticsearch.holders import HolderNameCache
from eventledger_projections.elasticsearch.writer import PendingTransfers


def test_the_name_cache_forgets_the_least_recently_used() -> None:
    cache = HolderNameCache(capacity=2)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(a, "Ada")
    cache.put(b, "Bob")
    assert cache.get(a) == "Ada"  # a is now the most recent
    cache.put(c, "Cy")
    assert (cache.get(a), cache.get(b), cache.get(c), len(cache)) == ("Ada", None, "Cy", 2)


def test_only_pending_transfers_are_kept_and_a_settled_one_is_dropped() -> None:
    script, ada, alan = ada_and_alan()
    hold = script.hold(ada, alan, 50, "piano")
    posted = script.transfer(ada, alan, 20, "tea")
    script.void(hold)
    events = {e.stream_id: e for e in script.envelopes if e.stream_id.startswith("transfer-")}
    created = next(e for e in script.envelopes if e.stream_id == f"transfer-{hold}")
    pending_state = fold(None, created)
    posted_state = fold(None, events[f"transfer-{posted}"])
    assert pending_state is not None
    assert posted_state is not None
    cache = PendingTransfers(capacity=10)
    cache.remember(pending_state)
    cache.remember(posted_state)
    assert cache.get(hold) == pending_state
    assert cache.get(posted) is None
    voided = fold(pending_state, events[f"transfer-{hold}"])
    assert voided is not None
    cache.remember(voided)
    assert cache.get(hold) is None
