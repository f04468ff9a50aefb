"""What the dashboard's charts read (ADR 0029), on a real Redis: the stream job's own script counts postings into its
one-minute windows, and the query side answers the last hour minute by minute, zeros where nothing was posted; and
the holder names beside the top accounts' ids come from the live version of the Redis read model."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
import redis.asyncio as aioredis
from tests.support.redis_rig import delete_base
from tests.support.servers import Endpoints

from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.views import RedisReadModel
from eventledger_projections.streaming.sink import RedisWindowSink
from eventledger_projections.streaming.windows import Posted, windows_of
from eventledger_query.windows import LAST_HOUR_MINUTES, WindowFigures


@pytest.fixture
def base(endpoints: Endpoints) -> Iterator[str]:
    name = f"test-last-hour-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    yield name
    delete_base(client, name)
    client.close()


def _count(redis_url: str, base: str, postings: list[Posted]) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        sink = RedisWindowSink(client, base=base)
        for offset, posted in enumerate(postings):
            await sink.count(0, offset, posted, windows_of(posted))
        await client.aclose()

    asyncio.run(run())


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_the_last_hour_is_answered_minute_by_minute_with_zeros_between(endpoints: Endpoints, base: str) -> None:
    # Windows expire an hour after they end, in real time: the oldest one here has two minutes left, so the
    # minute is taken when the test starts, not when the module was imported (a long session in between).
    minute = int(time.time()) // 60 * 60
    postings = [
        Posted("EUR", 1_000, 1, _at(minute + 5)),  # the current minute
        Posted("EUR", 2_500, 2, _at(minute + 40)),
        Posted("USD", 700, 3, _at(minute - 60 * 3 + 1)),  # three minutes ago
        Posted("EUR", 9_999, 4, _at(minute - 60 * 59)),  # the oldest minute of the hour
        Posted("EUR", 5, 5, _at(minute - 60 * 60)),  # an hour ago: outside
        Posted("EUR", 5, 2, _at(minute + 41)),  # a redelivery (position already counted): changes nothing
    ]
    _count(endpoints.redis_url, base, postings)

    client = redis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    series = WindowFigures(client, base).last_hour(now=minute + 42.5)

    assert series["window"] == "tumbling-1m"
    assert series["step_seconds"] == 60
    starts = series["starts"]
    assert len(starts) == LAST_HOUR_MINUTES
    assert starts[-1] == minute
    assert starts[0] == minute - 60 * 59
    assert all(later - earlier == 60 for earlier, later in itertools.pairwise(starts))
    assert sorted(series["transfers"]) == sorted(series["volume"]) == ["EUR", "USD"]
    eur_transfers, eur_volume = series["transfers"]["EUR"], series["volume"]["EUR"]
    assert (eur_transfers[-1], eur_volume[-1]) == (2, 3_500)
    assert (eur_transfers[0], eur_volume[0]) == (1, 9_999)
    assert sum(eur_transfers) == 3
    assert series["transfers"]["USD"][-4] == 1
    assert series["volume"]["USD"][-4] == 700
    assert sum(series["volume"]["USD"]) == 700
    client.close()


def test_an_hour_without_postings_has_minutes_and_no_currency(endpoints: Endpoints, base: str) -> None:
    client = redis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    series = WindowFigures(client, base).last_hour()
    assert len(series["starts"]) == LAST_HOUR_MINUTES
    assert series["transfers"] == series["volume"] == {}
    client.close()


def test_holder_names_come_from_the_live_version_and_unknown_accounts_are_left_out(
    endpoints: Endpoints, base: str
) -> None:
    client = redis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    keys = KeySpace(base)
    known, other, unknown = (str(uuid.uuid4()) for _ in range(3))
    client.set(keys.live, 3)
    client.hset(keys.account(3, known), "holder_name", "Ada Lovelace")
    client.hset(keys.account(2, other), "holder_name", "An Older Version")
    model = RedisReadModel(client, base=base)
    assert model.holder_names([known, other, unknown, known]) == {known: "Ada Lovelace"}
    client.delete(keys.live)
    assert model.holder_names([known]) == {}  # no live version yet
    client.close()
