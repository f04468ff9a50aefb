"""Per-client rate limiting: a token bucket per subject in Redis, updated by one atomic Lua script.

Contract of :meth:`RedisTokenBucket.acquire`: takes one token from the subject's bucket if it holds one and answers
whether it did. A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second, so a client may
send ``burst`` requests at once and ``rate`` per second after that. A refusal says when the next token will be
there (``retry_after`` seconds). The script reads and writes the bucket in one step on the Redis server, with the
server's clock, so concurrent gateways never let more through than the bucket holds and never disagree on time.
When Redis cannot answer in time it raises :class:`RateLimiterUnavailable`; what to do then is the caller's
policy (see :attr:`eventledger_gateway.routetable.Route.fail_closed` and ADR 0008).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

# KEYS[1]: the bucket. ARGV: rate (tokens/s), burst (capacity), cost. Answers {allowed, tokens left, retry after}
# with the numbers as strings (Redis truncates Lua numbers to integers in replies).
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry_after)}
"""


class RateLimiterUnavailable(Exception):
    """The limiter could not decide (Redis unreachable or too slow)."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds (RFC 9110 delay-seconds), at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    async def acquire(self, subject: str) -> Decision: ...


class RedisTokenBucket:
    """The token bucket of the module docstring, one Redis hash per subject under ``key_prefix``."""

    def __init__(self, client: aioredis.Redis, *, rate: float, burst: int, key_prefix: str) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst ≥ 1")
        self._script = client.register_script(BUCKET_SCRIPT)
        self._rate = rate
        self._burst = burst
        self._prefix = key_prefix

    def key(self, subject: str) -> str:
        return self._prefix + subject

    async def acquire(self, subject: str) -> Decision:
        try:
            allowed, remaining, retry_after = await self._script(
                keys=[self.key(subject)], args=[self._rate, self._burst, 1]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise RateLimiterUnavailable(str(exc) or type(exc).__name__) from exc
        return Decision(bool(int(allowed)), float(remaining), float(retry_after))


class Unlimited:
    """The limiter when rate limiting is disabled: every request passes."""

    async def acquire(self, subject: str) -> Decision:
        return Decision(True, math.inf, 0.0)
