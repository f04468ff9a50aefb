"""The Redis client of the read model and its scripts, with explicit timeouts and retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from eventledger_projections.redis import scripts


def connect(url: str, *, timeout: float = 5.0, client_name: str = "eventledger-projection-redis") -> redis.Redis:
    """A client answering text (``decode_responses``).

    One quick retry after a broken connection, no more: the runner owns retries with backoff. A command sent
    again after a lost reply is harmless because every write is a version-guarded script.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, 2.0),
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
        client_name=client_name,
    )


@dataclass(frozen=True)
class Scripts:
    """The scripts, registered on one client: each call is an EVALSHA, loaded again on NOSCRIPT."""

    apply: Script
    mark_caught_up: Script
    load_offsets: Script
    begin_handover: Script
    end_handover: Script
    reflected: Script
    seal: Script
    switch: Script
    begin_build: Script
    renew_lock: Script
    release_lock: Script

    @classmethod
    def register(cls, client: redis.Redis) -> Scripts:
        return cls(
            apply=client.register_script(scripts.APPLY),
            mark_caught_up=client.register_script(scripts.MARK_CAUGHT_UP),
            load_offsets=client.register_script(scripts.LOAD_OFFSETS),
            begin_handover=client.register_script(scripts.BEGIN_HANDOVER),
            end_handover=client.register_script(scripts.END_HANDOVER),
            reflected=client.register_script(scripts.REFLECTED),
            seal=client.register_script(scripts.SEAL),
            switch=client.register_script(scripts.SWITCH),
            begin_build=client.register_script(scripts.BEGIN_BUILD),
            renew_lock=client.register_script(scripts.RENEW_LOCK),
            release_lock=client.register_script(scripts.RELEASE_LOCK),
        )


def run(script: Script, *args: Any, keys: list[str] | None = None) -> Any:
    """Call a script with string arguments."""
    return script(keys=keys or [], args=[str(a) for a in args])
