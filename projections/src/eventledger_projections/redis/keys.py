"""The Redis key layout of the read model (docs/adr/0010-redis-read-model-and-stream-processing.md).

Every key starts with a *base* (``el`` in production; tests use their own) so that several deployments or test
runs share one Redis without touching each other. The projection's keys live under a *version* (``el:v3:...``);
the pointer ``el:live`` names the version readers and the live projector use, so that a rebuild can build
``el:v4:...`` beside it and switch with one atomic write. The stream job's window figures are not versioned (they
are short-lived and derived from Kafka, not from the event store): ``el:stream:...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from eventledger_projections.runtime.port import TopicPartition

_GLOB_SPECIALS = re.compile(r"([\\*?\[\]])")


def partition_field(tp: TopicPartition) -> str:
    """A topic partition as a hash field, ``"<topic>|<partition>"`` (Kafka topic names never contain ``|``)."""
    return f"{tp[0]}|{tp[1]}"


def parse_partition_field(field: str) -> TopicPartition:
    topic, _, partition = field.rpartition("|")
    return (topic, int(partition))


@dataclass(frozen=True, slots=True)
class KeySpace:
    """Key names under one base. Pure: it builds names and touches no server."""

    base: str = "el"

    def __post_init__(self) -> None:
        if not self.base or any(c.isspace() for c in self.base):
            raise ValueError(f"a Redis key base must be non-empty and without spaces, got {self.base!r}")

    @property
    def aof_rewrite_due(self) -> str:
        """String, present after an erasure until an append-only-file rewrite was started (:mod:`.erasure`)."""
        return f"{self.base}:aof-rewrite-due"

    # ------------------------------------------------------------------ version management
    @property
    def live(self) -> str:
        """String: the number of the version readers and the live projector use."""
        return f"{self.base}:live"

    @property
    def sequence(self) -> str:
        """Counter handing out version numbers (only ever grows)."""
        return f"{self.base}:seq"

    @property
    def rebuild_lock(self) -> str:
        """Held (with a token and an expiry) by the one rebuild allowed to run at a time."""
        return f"{self.base}:rebuild-lock"

    def version_prefix(self, version: int) -> str:
        """``"<base>:v<N>:"``: every key of version ``N`` starts with it."""
        return f"{self.base}:v{version}:"

    def version_pattern(self, version: int) -> str:
        """A SCAN MATCH pattern for every key of version ``N`` (the base's glob characters escaped)."""
        return _GLOB_SPECIALS.sub(r"\\\1", self.version_prefix(version)) + "*"

    @property
    def meta_pattern(self) -> str:
        """A SCAN MATCH pattern finding the meta hash of every version."""
        return _GLOB_SPECIALS.sub(r"\\\1", self.base) + ":v*:meta"

    def parse_meta_key(self, key: str) -> int | None:
        """The version number of a meta key found by :attr:`meta_pattern`, or ``None`` for any other key."""
        match = re.fullmatch(re.escape(self.base) + r":v(\d+):meta", key)
        return int(match.group(1)) if match else None

    def meta(self, version: int) -> str:
        """Hash: ``state`` (building|live|retired), ``created_at``, ``floor``, ``reflected_position``, and
        ``handover`` (``<token>|<deadline ms>``) while a rebuild takes over from this version."""
        return self.version_prefix(version) + "meta"

    def offsets(self, version: int) -> str:
        """Hash: ``<topic>|<partition>`` -> next Kafka offset to read (authoritative for the runner)."""
        return self.version_prefix(version) + "offsets"

    def last_positions(self, version: int) -> str:
        """Hash: ``<topic>|<partition>`` -> highest position applied or parked from that partition (a rebuild's
        hand-over replays the event store up to the highest of them)."""
        return self.version_prefix(version) + "last"

    def marks(self, version: int) -> str:
        """Hash: ``<topic>|<partition>`` -> every event of that partition at or below it is applied."""
        return self.version_prefix(version) + "marks"

    # ------------------------------------------------------------------ read model rows
    def account(self, version: int, account_id: UUID | str) -> str:
        """Hash: the balance cache of one account (see the ADR for its fields)."""
        return f"{self.version_prefix(version)}account:{account_id}"

    def transfer(self, version: int, transfer_id: UUID | str) -> str:
        """String: the last applied version of a transfer stream (the guard of the volume figures)."""
        return f"{self.version_prefix(version)}transfer:{transfer_id}"

    def account_counts(self, version: int) -> str:
        """Hash: ``open``, ``frozen``, ``closed`` -> number of accounts in that status."""
        return self.version_prefix(version) + "accounts"

    def volume(self, version: int) -> str:
        """Hash: currency -> sum of the amounts of posted transfers (minor units)."""
        return self.version_prefix(version) + "volume"

    def posted(self, version: int) -> str:
        """Hash: currency -> number of posted transfers."""
        return self.version_prefix(version) + "posted"

    def top(self, version: int, currency: str) -> str:
        """Sorted set: account id scored by the amounts it sent and received (minor units of ``currency``)."""
        return f"{self.version_prefix(version)}top:{currency}"

    # ------------------------------------------------------------------ stream job (not versioned)
    @property
    def stream_prefix(self) -> str:
        return f"{self.base}:stream:"
