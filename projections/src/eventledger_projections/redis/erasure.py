"""Erasure in the Redis read model: the other copies, and the append-only file.

The live version is masked by the ``APPLY`` script itself (operation ``E``, atomic with the progress). Every other
copy under the same base (``<base>:v<N>:`` of other versions, ``<base>:sandbox:<name>:v<N>:``, ADR 0034) is masked
by :func:`mask_copies`, which the live projector runs before it applies a batch holding an erasure: it finds the
account's hashes with ``SCAN`` and sets their ``holder_name`` to ``[erased]`` where they exist (idempotent, so a
batch tried again masks again). The read model keeps a holder's name in the account hash only; descriptions are
not in Redis (docs/adr/0035-key-handling-for-personal-data.md).

Redis runs with an append-only file: the commands that wrote the name are still in it after the mask. So the
``APPLY`` script also sets ``<base>:aof-rewrite-due``, and :func:`rewrite_append_only_file_if_due` (run by the
live projector with each progress refresh) starts ``BGREWRITEAOF`` once no rewrite is running or scheduled, then
deletes the flag: the rewrite forks after the mask, so the new file holds only ``[erased]``, and Redis deletes the
old files once it is done. The flag lives in Redis, so a projector that dies before the rewrite leaves it to the
next one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from uuid import UUID

import redis

from eventledger_events.personal import ERASED

_GLOB_SPECIALS = re.compile(r"([\\*?\[\]])")
_MASK_IF_EXISTS = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'holder_name', ARGV[1]) end return 0"
)


def mask_copies(client: redis.Redis, base: str, account_ids: Sequence[UUID]) -> list[str]:
    """Set ``holder_name`` to ``[erased]`` in every account hash of ``account_ids`` under ``base``; answers the
    keys masked."""
    masked: list[str] = []
    escaped = _GLOB_SPECIALS.sub(r"\\\1", base)
    for account_id in account_ids:
        for key in client.scan_iter(match=f"{escaped}:*account:{account_id}", count=1000):
            name = key.decode() if isinstance(key, bytes) else str(key)
            client.eval(_MASK_IF_EXISTS, 1, name, ERASED)
            masked.append(name)
    return masked


def rewrite_append_only_file_if_due(client: redis.Redis, due_key: str) -> bool:
    """Start an append-only-file rewrite if an erasure asked for one and none is running; answers whether it did."""
    if not client.exists(due_key):
        return False
    persistence = client.info("persistence")
    if not persistence.get("aof_enabled"):
        client.delete(due_key)
        return False
    if persistence.get("aof_rewrite_in_progress") or persistence.get("aof_rewrite_scheduled"):
        return False  # that rewrite may have forked before the mask: wait for it, then start one of our own
    client.bgrewriteaof()
    client.delete(due_key)
    return True
