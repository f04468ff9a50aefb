"""Sandboxes: a read model rebuilt as of a past position of the log, beside the live one, to look at and to diff.

A sandbox is the read model's own rebuild (the same code that rebuilds the live version) run into a namespace of its
own, with the log read only up to the position asked for:

- PostgreSQL: the base schema ``<read model schema>_sandbox_<name>`` (and its version schemas);
- Redis: the key base ``<key base>:sandbox:<name>``;
- Elasticsearch: the index prefix ``<index prefix>sandbox-<name>-``.

The live version, its projector and its readers never see a sandbox: its names match none of the live patterns.
Which sandboxes exist, and the position each was built to, is kept in the table ``projection_sandboxes`` of the
event store's database. A sandbox is compared with a fresh replay of the log up to its position, or with the live
version, by dumping both into :data:`Contents` (every row, key or document, as canonical JSON, without the
projector's own progress) and listing what differs. See docs/adr/0034-bitemporal-history.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import psycopg

from eventledger_projections.rebuild.port import RebuildListener, RebuildRefused, RebuildReport
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import EventLogReader
from eventledger_runtime.settings import ProjectionSettings, Servers

Contents = dict[str, dict[str, str]]
"""A read model's contents: section (a table, a kind of key, an index) → key → the row as canonical JSON."""

_NAME = re.compile(r"^[a-z][a-z0-9]{0,23}$")
_SCRATCH = "_replay"
"""A diff's replay is built into the sandbox ``<name>_replay``, a name no one else can give."""

_TABLE = """
CREATE TABLE IF NOT EXISTS projection_sandboxes (
    read_model  text        NOT NULL,
    name        text        NOT NULL,
    position    bigint      NOT NULL,
    location    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (read_model, name)
)
"""


class SandboxError(Exception):
    """A sandbox command that cannot be done as asked (the message says why); nothing was changed."""


def check_name(name: str, *, scratch: bool = True) -> str:
    """A sandbox name: a lower-case letter, then up to 23 lower-case letters or digits (``scratch``: also such a
    name followed by ``_replay``, a diff's own)."""
    plain = name.removesuffix(_SCRATCH) if scratch else name
    if not _NAME.match(plain):
        raise SandboxError(
            f"not a sandbox name: {name!r} (a lower-case letter, then up to 23 lower-case letters or digits)"
        )
    return name


def canonical(value: Any) -> str:
    """One row as JSON with sorted keys, the form two contents are compared in."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


class BoundedSource(EventStoreSource):
    """The event store read only up to ``position``: a rebuild given this source builds the read model as of it.

    The rebuilds take their bound from ``relay_position`` (PostgreSQL, Redis) or from a ``safe_head`` callable
    (Elasticsearch, :meth:`bound`); both answer ``position``, which must be settled (at or below the log's safe
    head), else the source refuses to be made."""

    def __init__(self, log: EventLogReader, position: int, *, event_types: Collection[str] | None = None) -> None:
        super().__init__(log, event_types=event_types, trusted=event_types is not None)
        if position < 0:
            raise SandboxError(f"a position is 0 or more, not {position}")
        head = log.safe_head()
        if position > head:
            log.close()
            raise SandboxError(f"position {position} is beyond the log's settled head {head}")
        self.position = position

    def relay_position(self) -> int:
        return self.position

    def bound(self) -> int:
        return self.position


@dataclass(frozen=True)
class SandboxRecord:
    read_model: str
    name: str
    position: int
    location: str
    created_at: datetime


class SandboxCatalog:
    """The table of sandboxes in the event store's database (``dsn``)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._dsn, autocommit=True)
        conn.execute(_TABLE)
        return conn

    def find(self, read_model: str, name: str) -> SandboxRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT read_model, name, position, location, created_at FROM projection_sandboxes"
                " WHERE read_model = %s AND name = %s",
                [read_model, name],
            ).fetchone()
        return SandboxRecord(*row) if row else None

    def all(self) -> list[SandboxRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT read_model, name, position, location, created_at FROM projection_sandboxes"
                " ORDER BY read_model, name"
            ).fetchall()
        return [SandboxRecord(*row) for row in rows]

    def claim(self, read_model: str, name: str, position: int) -> None:
        """Record a sandbox about to be built; refused if one of that name exists (drop it first)."""
        with self._connect() as conn:
            inserted = conn.execute(
                "INSERT INTO projection_sandboxes (read_model, name, position, location) VALUES (%s, %s, %s, '')"
                " ON CONFLICT DO NOTHING",
                [read_model, name, position],
            ).rowcount
        if not inserted:
            raise SandboxError(f"a {read_model} sandbox named {name} exists: drop it first")

    def built(self, read_model: str, name: str, position: int, location: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE projection_sandboxes SET position = %s, location = %s WHERE read_model = %s AND name = %s",
                [position, location, read_model, name],
            )

    def forget(self, read_model: str, name: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM projection_sandboxes WHERE read_model = %s AND name = %s", [read_model, name])


class SandboxStore(Protocol):
    """What a read model's wiring provides for sandboxes (one per read model)."""

    def build(
        self, settings: ProjectionSettings, infra: Servers, name: str, position: int, listener: RebuildListener
    ) -> RebuildReport:
        """Rebuild the read model into the sandbox ``name`` as of ``position`` (which must not exist yet)."""

    def contents(self, settings: ProjectionSettings, infra: Servers, name: str | None) -> Contents:
        """Every row of the sandbox ``name`` (None: the live version), without the projector's progress."""

    def reflected_position(self, settings: ProjectionSettings, infra: Servers) -> int:
        """The live version's reflected position."""

    def drop(self, settings: ProjectionSettings, infra: Servers, name: str) -> list[str]:
        """Delete everything of the sandbox ``name``; answers what was deleted (nothing if it did not exist)."""


def build_sandbox(
    read_model: str,
    store: SandboxStore,
    settings: ProjectionSettings,
    infra: Servers,
    name: str,
    position: int,
    listener: RebuildListener,
    *,
    scratch: bool = False,
) -> RebuildReport:
    """Build the sandbox and record it; a failed build leaves nothing behind."""
    catalog = SandboxCatalog(infra.postgres_dsn)
    catalog.claim(read_model, check_name(name, scratch=scratch), position)
    try:
        report = store.build(settings, infra, name, position, listener)
    except BaseException:
        store.drop(settings, infra, name)
        catalog.forget(read_model, name)
        raise
    catalog.built(read_model, name, report.built_to, report.where)
    return report


def drop_sandbox(
    read_model: str, store: SandboxStore, settings: ProjectionSettings, infra: Servers, name: str
) -> list[str]:
    """Delete the sandbox and its record; :class:`SandboxError` if no such sandbox is recorded."""
    catalog = SandboxCatalog(infra.postgres_dsn)
    if catalog.find(read_model, check_name(name)) is None:
        raise SandboxError(f"no {read_model} sandbox named {name}")
    dropped = store.drop(settings, infra, name)
    catalog.forget(read_model, name)
    return dropped


@dataclass(frozen=True)
class Difference:
    """What differs between two contents, ``left`` (the sandbox) and ``right`` (a replay, or the live version)."""

    only_left: list[tuple[str, str, str]]
    only_right: list[tuple[str, str, str]]
    changed: list[tuple[str, str, str, str]]

    @property
    def same(self) -> bool:
        return not (self.only_left or self.only_right or self.changed)

    def lines(self, left: str, right: str, limit: int = 20) -> Iterator[str]:
        """A readable report: counts, then up to ``limit`` examples of each kind."""
        yield (
            f"{len(self.only_left)} only in {left}, {len(self.only_right)} only in {right},"
            f" {len(self.changed)} different"
        )
        for section, key, row in self.only_left[:limit]:
            yield f"  only in {left}: {section} {key}: {row}"
        for section, key, row in self.only_right[:limit]:
            yield f"  only in {right}: {section} {key}: {row}"
        for section, key, ours, theirs in self.changed[:limit]:
            yield f"  different: {section} {key}:\n    {left}: {ours}\n    {right}: {theirs}"
        hidden = sum(max(0, len(kind) - limit) for kind in (self.only_left, self.only_right, self.changed))
        if hidden:
            yield f"  ... and {hidden} more"


def compare(left: Contents, right: Contents) -> Difference:
    only_left, only_right, changed = [], [], []
    for section in sorted(set(left) | set(right)):
        ours, theirs = left.get(section, {}), right.get(section, {})
        for key in sorted(set(ours) | set(theirs)):
            if key not in theirs:
                only_left.append((section, key, ours[key]))
            elif key not in ours:
                only_right.append((section, key, theirs[key]))
            elif ours[key] != theirs[key]:
                changed.append((section, key, ours[key], theirs[key]))
    return Difference(only_left, only_right, changed)


@dataclass(frozen=True)
class DiffOutcome:
    difference: Difference
    left: str
    right: str
    notes: tuple[str, ...] = ()


def diff_sandbox(
    read_model: str,
    store: SandboxStore,
    settings: ProjectionSettings,
    infra: Servers,
    name: str,
    *,
    against: str,
    listener_for: Callable[[str], RebuildListener],
) -> DiffOutcome:
    """Compare the sandbox ``name`` with a fresh replay of the log up to its position (``against="replay"``: built
    into a scratch sandbox, dropped afterwards) or with the live version (``against="live"``)."""
    catalog = SandboxCatalog(infra.postgres_dsn)
    record = catalog.find(read_model, check_name(name))
    if record is None:
        raise SandboxError(f"no {read_model} sandbox named {name}")
    sandbox = store.contents(settings, infra, name)
    left = f"sandbox {name} (position {record.position})"
    if against == "live":
        reflected = store.reflected_position(settings, infra)
        notes: tuple[str, ...] = ()
        if reflected != record.position:
            notes = (
                f"the live version reflects position {reflected}, the sandbox {record.position}: events between them"
                " show as differences",
            )
        return DiffOutcome(compare(sandbox, store.contents(settings, infra, None)), left, "live", notes)
    if against != "replay":
        raise SandboxError(f"compare with 'replay' or 'live', not {against!r}")
    scratch = name + _SCRATCH
    if catalog.find(read_model, scratch) is not None:
        drop_sandbox(read_model, store, settings, infra, scratch)
    build_sandbox(read_model, store, settings, infra, scratch, record.position, listener_for(scratch), scratch=True)
    try:
        replayed = store.contents(settings, infra, scratch)
    finally:
        drop_sandbox(read_model, store, settings, infra, scratch)
    return DiffOutcome(compare(sandbox, replayed), left, f"a replay to position {record.position}")


__all__ = [
    "BoundedSource",
    "Contents",
    "DiffOutcome",
    "Difference",
    "RebuildRefused",
    "SandboxCatalog",
    "SandboxError",
    "SandboxStore",
    "build_sandbox",
    "canonical",
    "check_name",
    "compare",
    "diff_sandbox",
    "drop_sandbox",
]
