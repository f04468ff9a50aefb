"""One contract suite for each port of the authorization server, against every backend: the client registry and the
signing-key store in memory and in PostgreSQL, the revocation list in memory and in Redis (ADR 0024)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.support.eventstore import isolated_schema

from eventledger_gateway.oauth.clients import (
    Client,
    ClientExists,
    ClientRegistry,
    InMemoryClientRegistry,
    StoredClient,
    new_client_id,
)
from eventledger_gateway.oauth.keys import InMemorySigningKeyStore, SigningKeyStore, StoredKey
from eventledger_gateway.oauth.postgres import (
    PostgresClientRegistry,
    PostgresSigningKeyStore,
    migrate_oauth_tables,
    open_pool,
)
from eventledger_gateway.oauth.revocation import InMemoryRevocationList, RedisRevocationList, RevocationList

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Backend = Callable[[], contextlib.AbstractAsyncContextManager[tuple[ClientRegistry, SigningKeyStore]]]


@pytest.fixture(params=["memory", "postgres"])
def stores(request: pytest.FixtureRequest) -> Backend:
    @contextlib.asynccontextmanager
    async def memory() -> AsyncIterator[tuple[ClientRegistry, SigningKeyStore]]:
        yield InMemoryClientRegistry(), InMemorySigningKeyStore()

    @contextlib.asynccontextmanager
    async def postgres() -> AsyncIterator[tuple[ClientRegistry, SigningKeyStore]]:
        with isolated_schema(request.getfixturevalue("endpoints").postgres_dsn, prefix="oauth") as dsn:
            migrate_oauth_tables(dsn)
            pool = open_pool(dsn, size=4)
            await pool.open(wait=True)
            try:
                yield PostgresClientRegistry(pool), PostgresSigningKeyStore(pool)
            finally:
                await pool.close()

    return memory if request.param == "memory" else postgres


def _client(**changes: Any) -> StoredClient:
    client = Client(new_client_id(), "reporting", ("reader", "writer"), ("reports:export",), T0, T0)
    return StoredClient(replace(client, **changes), "$argon2id$hash")


def _key(kid: str, created_at: datetime) -> StoredKey:
    return StoredKey(kid, "EdDSA", b"encrypted", {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": kid}, created_at)


async def test_a_client_is_stored_read_listed_and_its_id_is_unique(stores: Backend) -> None:
    async with stores() as (clients, _):
        first, second = _client(), _client(created_at=T0 + timedelta(seconds=1))
        await clients.add(second)
        await clients.add(first)
        assert await clients.get(first.client.client_id) == first
        assert await clients.get("client-nobody") is None
        assert await clients.all() == [first.client, second.client]
        with pytest.raises(ClientExists):
            await clients.add(_client(client_id=first.client.client_id))


async def test_disabling_enabling_and_a_new_secret_are_stored(stores: Backend) -> None:
    async with stores() as (clients, _):
        stored = _client()
        client_id = stored.client.client_id
        await clients.add(stored)
        disabled = await clients.set_disabled(client_id, T0 + timedelta(minutes=1))
        assert disabled is not None
        assert disabled.disabled_at == T0 + timedelta(minutes=1)
        assert not disabled.enabled
        enabled = await clients.set_disabled(client_id, None)
        assert enabled is not None
        assert enabled.enabled
        rotated = await clients.replace_secret(client_id, "$argon2id$new", T0 + timedelta(hours=1))
        assert rotated is not None
        assert rotated.secret_rotated_at == T0 + timedelta(hours=1)
        again = await clients.get(client_id)
        assert again is not None
        assert again.secret_hash == "$argon2id$new"
        assert await clients.set_disabled("client-nobody", T0) is None
        assert await clients.replace_secret("client-nobody", "h", T0) is None


async def test_rotation_retires_the_active_key_which_stays_published_until_its_time(stores: Backend) -> None:
    async with stores() as (_, keys):
        assert await keys.published(T0) == []
        assert await keys.rotate(_key("k1", T0), retire_at=T0, publish_until=T0, only_if_older_than=None)
        later = T0 + timedelta(hours=1)
        assert await keys.rotate(
            _key("k2", later), retire_at=later, publish_until=later + timedelta(minutes=15), only_if_older_than=None
        )
        published = await keys.published(later)
        assert [(k.kid, k.active) for k in published] == [("k2", True), ("k1", False)]
        assert published[1].retired_at == later
        assert published[1].published_until == later + timedelta(minutes=15)
        assert published[0].public_jwk["kid"] == "k2"
        assert published[0].private_key == b"encrypted"
        assert [k.kid for k in await keys.published(later + timedelta(minutes=16))] == ["k2"]


async def test_a_scheduled_rotation_does_nothing_when_the_active_key_is_fresh(stores: Backend) -> None:
    async with stores() as (_, keys):
        await keys.rotate(_key("k1", T0), retire_at=T0, publish_until=T0, only_if_older_than=None)
        fresh = await keys.rotate(
            _key("k2", T0), retire_at=T0, publish_until=T0, only_if_older_than=T0 - timedelta(hours=1)
        )
        assert not fresh
        due = await keys.rotate(
            _key("k3", T0 + timedelta(days=1)),
            retire_at=T0 + timedelta(days=1),
            publish_until=T0 + timedelta(days=1),
            only_if_older_than=T0 + timedelta(minutes=1),
        )
        assert due
        assert [k.kid for k in await keys.published(T0) if k.active] == ["k3"]


async def test_of_concurrent_scheduled_rotations_exactly_one_rotates(stores: Backend) -> None:
    async with stores() as (_, keys):
        await keys.rotate(_key("k0", T0), retire_at=T0, publish_until=T0, only_if_older_than=None)
        now = T0 + timedelta(days=2)
        outcomes = await asyncio.gather(
            *(
                keys.rotate(
                    _key(f"n{i}", now), retire_at=now, publish_until=now, only_if_older_than=now - timedelta(days=1)
                )
                for i in range(4)
            )
        )
        assert sorted(outcomes) == [False, False, False, True]
        assert len([k for k in await keys.published(T0) if k.active]) == 1


@pytest.fixture(params=["memory", "redis"])
def revocations(request: pytest.FixtureRequest) -> Callable[[], contextlib.AbstractAsyncContextManager[RevocationList]]:
    @contextlib.asynccontextmanager
    async def memory() -> AsyncIterator[RevocationList]:
        yield InMemoryRevocationList()

    @contextlib.asynccontextmanager
    async def redis() -> AsyncIterator[RevocationList]:
        client = aioredis.Redis.from_url(request.getfixturevalue("endpoints").redis_url)
        prefix = f"test:revocations:{uuid.uuid4().hex[:10]}:"
        try:
            yield RedisRevocationList(client, key_prefix=prefix)
        finally:
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return memory if request.param == "memory" else redis


async def test_a_revoked_client_refuses_the_tokens_issued_until_then_and_no_later_ones(
    revocations: Callable[[], contextlib.AbstractAsyncContextManager[RevocationList]],
) -> None:
    async with revocations() as revoked:
        now = time.time()
        assert not await revoked.refused("client-a", "jti-1", int(now))
        await revoked.revoke_client("client-a", now, hold_seconds=60)
        assert await revoked.refused("client-a", "jti-1", int(now))
        assert await revoked.refused("client-a", "jti-2", int(now) - 100)
        assert not await revoked.refused("client-a", "jti-3", int(now) + 1)
        assert not await revoked.refused("client-b", "jti-1", int(now))


async def test_a_revoked_token_id_is_refused_until_it_expires_and_forgotten_after(
    revocations: Callable[[], contextlib.AbstractAsyncContextManager[RevocationList]],
) -> None:
    async with revocations() as revoked:
        now = time.time()
        await revoked.revoke_token("jti-1", now + 0.5)
        await revoked.revoke_token("jti-gone", now - 1)
        assert await revoked.refused("client-a", "jti-1", int(now))
        assert not await revoked.refused("client-a", "jti-2", int(now))
        assert not await revoked.refused("client-a", "jti-gone", int(now))
        await asyncio.sleep(0.6)
        assert not await revoked.refused("client-a", "jti-1", int(now))


async def test_a_client_revocation_is_forgotten_after_its_hold(
    revocations: Callable[[], contextlib.AbstractAsyncContextManager[RevocationList]],
) -> None:
    async with revocations() as revoked:
        now = time.time()
        await revoked.revoke_client("client-a", now, hold_seconds=0.3)
        assert await revoked.refused("client-a", "jti-1", int(now))
        await asyncio.sleep(0.4)
        assert not await revoked.refused("client-a", "jti-1", int(now))
