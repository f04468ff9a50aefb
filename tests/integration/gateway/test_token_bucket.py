"""The Lua token bucket on the real Redis: burst, refusal with a retry time, refill, isolation, atomicity."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis
import redis.asyncio as aioredis
from tests.support.processes import free_port
from tests.support.servers import Endpoints

from eventledger_gateway.ratelimit import Decision, RateLimiterUnavailable, RedisTokenBucket


def _bucket(client: aioredis.Redis, key_prefix: str, *, rate: float, burst: int) -> RedisTokenBucket:
    return RedisTokenBucket(client, rate=rate, burst=burst, key_prefix=key_prefix)


async def test_a_burst_passes_then_the_next_request_learns_when_to_retry(endpoints: Endpoints, key_prefix: str) -> None:
    async with aioredis.Redis.from_url(endpoints.redis_url) as client:
        bucket = _bucket(client, key_prefix, rate=0.5, burst=5)
        decisions = [await bucket.acquire("alice") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[4].remaining < 1
    refused = decisions[5]
    assert 0 < refused.retry_after <= 2.0  # one token comes back every 2 s
    assert refused.retry_after_header in {"1", "2"}


async def test_tokens_come_back_at_the_configured_rate(endpoints: Endpoints, key_prefix: str) -> None:
    async with aioredis.Redis.from_url(endpoints.redis_url) as client:
        bucket = _bucket(client, key_prefix, rate=2, burst=1)
        assert (await bucket.acquire("alice")).allowed
        refused = await bucket.acquire("alice")
        assert not refused.allowed
        assert 0 < refused.retry_after <= 0.5
        await asyncio.sleep(refused.retry_after + 0.05)
        assert (await bucket.acquire("alice")).allowed


async def test_subjects_have_buckets_of_their_own(endpoints: Endpoints, key_prefix: str) -> None:
    async with aioredis.Redis.from_url(endpoints.redis_url) as client:
        bucket = _bucket(client, key_prefix, rate=0.01, burst=2)
        alice = [(await bucket.acquire("alice")).allowed for _ in range(3)]
        bob = [(await bucket.acquire("bob")).allowed for _ in range(3)]
    assert alice == bob == [True, True, False]


async def test_an_idle_bucket_expires_from_redis(endpoints: Endpoints, key_prefix: str) -> None:
    async with aioredis.Redis.from_url(endpoints.redis_url) as client:
        bucket = _bucket(client, key_prefix, rate=100, burst=10)
        await bucket.acquire("alice")
        ttl_ms = await client.pttl(bucket.key("alice"))
    assert 0 < ttl_ms <= 1100  # time to refill completely (0.1 s) plus a second


def test_concurrent_gateways_never_let_more_than_the_burst_through(endpoints: Endpoints, key_prefix: str) -> None:
    """4 threads (as 4 gateway processes would), each with its own connections and 50 concurrent requests, on a
    bucket of 60 that does not refill during the test: exactly 60 pass. A read-then-write from the client would
    let several requests spend the same token."""
    results: list[Decision] = []
    lock = threading.Lock()

    async def gateway_process() -> None:
        async with aioredis.Redis.from_url(endpoints.redis_url, max_connections=50) as client:
            bucket = _bucket(client, key_prefix, rate=0.0001, burst=60)
            decisions = await asyncio.gather(*(bucket.acquire("shared") for _ in range(50)))
        with lock:
            results.extend(decisions)

    threads = [threading.Thread(target=asyncio.run, args=(gateway_process(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 200
    assert sum(decision.allowed for decision in results) == 60
    stored = redis.Redis.from_url(endpoints.redis_url).hget(f"{key_prefix}shared", "tokens")
    assert stored is not None
    assert float(stored) < 1


async def test_an_unreachable_redis_is_reported_not_hidden(key_prefix: str) -> None:
    async with aioredis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    ) as client:
        bucket = _bucket(client, key_prefix, rate=1, burst=1)
        with pytest.raises(RateLimiterUnavailable):
            await bucket.acquire("alice")
