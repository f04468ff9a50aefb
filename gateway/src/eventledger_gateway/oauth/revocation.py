"""The revocation list: tokens refused before they expire, shared by every gateway replica.

Two kinds of entry:
- a **client** revoked at time *t* (disabled, or its secret rotated with ``revoke_tokens``): every token of that
  client issued at or before *t* (``iat`` ≤ *t*, whole seconds) is refused. The entry is kept for the longest
  life of a token, after which every such token has expired anyway;
- a **token id** (``jti``, RFC 7009 revocation): that token is refused until it expires.

Contract of :meth:`RevocationList.refused`: whether the token of ``client_id`` with ``jti`` issued at ``issued_at``
is revoked; it raises :class:`RevocationListUnavailable` when it cannot tell, and the caller refuses the request
(a revoked token must never pass because Redis is down: fail closed, ADR 0024). Writes are visible to every reader
as soon as they return.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError


class RevocationListUnavailable(Exception):
    """The list could not be read or written."""


class RevocationList(Protocol):
    async def revoke_client(self, client_id: str, at: float, *, hold_seconds: float) -> None: ...
    async def revoke_token(self, jti: str, expires_at: float) -> None: ...
    async def refused(self, client_id: str, jti: str, issued_at: int) -> bool: ...


class InMemoryRevocationList:
    """:class:`RevocationList` in dicts, for unit tests and a single development gateway."""

    def __init__(self) -> None:
        self._clients: dict[str, tuple[float, float]] = {}  # client id -> (revoked at, kept until)
        self._tokens: dict[str, float] = {}  # jti -> expires at

    async def revoke_client(self, client_id: str, at: float, *, hold_seconds: float) -> None:
        self._clients[client_id] = (at, time.time() + hold_seconds)

    async def revoke_token(self, jti: str, expires_at: float) -> None:
        self._tokens[jti] = expires_at

    async def refused(self, client_id: str, jti: str, issued_at: int) -> bool:
        now = time.time()
        client = self._clients.get(client_id)
        if client is not None and client[1] > now and issued_at <= math.floor(client[0]):
            return True
        return self._tokens.get(jti, 0.0) > now


class RedisRevocationList:
    """:class:`RevocationList` in Redis: ``<prefix>client:<id>`` holds the revocation time, ``<prefix>jti:<id>``
    marks a token; both expire when no token they refuse can still be valid. One ``MGET`` per check."""

    def __init__(self, client: aioredis.Redis, *, key_prefix: str) -> None:
        self._redis = client
        self._prefix = key_prefix

    async def revoke_client(self, client_id: str, at: float, *, hold_seconds: float) -> None:
        key = f"{self._prefix}client:{client_id}"
        await self._run(self._redis.set(key, repr(at), px=max(1, math.ceil(hold_seconds * 1000))))

    async def revoke_token(self, jti: str, expires_at: float) -> None:
        remaining = math.ceil((expires_at - time.time()) * 1000)
        if remaining > 0:
            await self._run(self._redis.set(f"{self._prefix}jti:{jti}", b"1", px=remaining))

    async def refused(self, client_id: str, jti: str, issued_at: int) -> bool:
        revoked_at, token = await self._run(
            self._redis.mget([f"{self._prefix}client:{client_id}", f"{self._prefix}jti:{jti}"])
        )
        if token is not None:
            return True
        return revoked_at is not None and issued_at <= math.floor(float(revoked_at))

    @staticmethod
    async def _run(command: Awaitable[Any]) -> Any:
        try:
            return await command
        except (RedisError, OSError, TimeoutError) as exc:
            raise RevocationListUnavailable(str(exc) or type(exc).__name__) from exc
