"""The names of the Elasticsearch read model's indices and aliases, under one prefix.

One *version* of the read model is a pair of concrete indices, ``<prefix>transfers-v<N>`` (the searched documents)
and ``<prefix>holders-v<N>`` (the holder-name lookup). Readers and the live projector use the aliases
``<prefix>transfers`` and ``<prefix>holders``, which always point at the same version; a rebuild builds version
``N + 1`` beside the live one and moves both aliases in one atomic ``_aliases`` call. The progress index
``<prefix>transfers-progress`` is not versioned: it records what the live projector consumed from Kafka, which a
version switch does not change (docs/adr/0011-elasticsearch-read-model.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "eventledger-"

_VALID_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]*$|^$")


@dataclass(frozen=True, slots=True)
class IndexNames:
    """Every name the read model uses, derived from ``prefix`` (lower case, as Elasticsearch requires)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _VALID_PREFIX.match(self.prefix):
            raise ValueError(f"not a usable index prefix: {self.prefix!r} (lower-case letters, digits, '_', '.', '-')")

    @property
    def transfers(self) -> str:
        """The alias every reader and the live projector use for the searched documents."""
        return f"{self.prefix}transfers"

    @property
    def holders(self) -> str:
        """The alias of the holder-name lookup."""
        return f"{self.prefix}holders"

    @property
    def progress(self) -> str:
        """The projector's progress (offsets, position marks, parked messages, the rebuild cap)."""
        return f"{self.prefix}transfers-progress"

    def transfers_version(self, version: int) -> str:
        return f"{self.transfers}-v{version}"

    def holders_version(self, version: int) -> str:
        return f"{self.holders}-v{version}"

    def version_of(self, index: str) -> int | None:
        """``N`` for ``<prefix>transfers-vN`` or ``<prefix>holders-vN``; None for any other name."""
        for alias in (self.transfers, self.holders):
            match = re.fullmatch(re.escape(alias) + r"-v(\d+)", index)
            if match:
                return int(match.group(1))
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a writer puts documents: the aliases (the live projector) or one concrete version (a rebuild)."""

    transfers: str
    holders: str

    @classmethod
    def live(cls, names: IndexNames) -> Target:
        return cls(names.transfers, names.holders)

    @classmethod
    def version(cls, names: IndexNames, version: int) -> Target:
        return cls(names.transfers_version(version), names.holders_version(version))
