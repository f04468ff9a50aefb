"""Tidying a test's Redis keys away after it."""

from __future__ import annotations

import redis


def delete_keys(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a test's own namespace on the shared Redis)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
