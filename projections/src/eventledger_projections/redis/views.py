"""Reading the Redis read model: what the query side's ``/v1/stats/overview`` and balance reads need.

The query side reads these keys itself (it may not import projections); this module is the executable
description of how to read them consistently, and the tests' and the checker's way in. Every read runs in one
MULTI with a ``GET`` of the live pointer: if a rebuild switched versions in between, the read is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import redis

from eventledger_projections.redis.keys import KeySpace

_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account's balance cache (amounts in minor units)."""

    account_id: str
    holder_name: str
    currency: str
    status: str
    balance: int
    available: int
    held: int
    overdraft_limit: int
    volume: int
    version: int
    position: int
    updated_at: str
    opened_at: str

    @classmethod
    def from_hash(cls, account_id: str, row: dict[str, str]) -> AccountView:
        return cls(
            account_id=account_id,
            holder_name=row["holder_name"],
            currency=row["currency"],
            status=row["status"],
            balance=int(row["balance"]),
            available=int(row["available"]),
            held=int(row["held"]),
            overdraft_limit=int(row["overdraft_limit"]),
            volume=int(row["volume"]),
            version=int(row["version"]),
            position=int(row["position"]),
            updated_at=row["updated_at"],
            opened_at=row["opened_at"],
        )


@dataclass(frozen=True, slots=True)
class Overview:
    """The dashboard figures the projection keeps (the windowed ones come from the stream job)."""

    version: int | None
    reflected_position: int
    accounts_by_status: dict[str, int] = field(default_factory=dict)
    volume: dict[str, int] = field(default_factory=dict)
    posted_transfers: dict[str, int] = field(default_factory=dict)
    top_accounts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def open_accounts(self) -> int:
        """Accounts not closed (open or frozen)."""
        return self.accounts_by_status.get("open", 0) + self.accounts_by_status.get("frozen", 0)


class RedisReadModel:
    """Consistent reads of the live version."""

    def __init__(self, client: redis.Redis, *, base: str = "el") -> None:
        self.keys = KeySpace(base)
        self._client = client

    def live_version(self) -> int | None:
        value = self._client.get(self.keys.live)
        return int(value) if value is not None else None

    def reflected_position(self) -> int:
        def read(pipe: Any, version: int) -> None:
            pipe.hget(self.keys.meta(version), "reflected_position")

        version, answers = self._read(read)
        return int(answers[0] or 0) if version is not None else 0

    def account(self, account_id: UUID | str) -> AccountView | None:
        def read(pipe: Any, version: int) -> None:
            pipe.hgetall(self.keys.account(version, account_id))

        version, answers = self._read(read)
        if version is None or not answers[0]:
            return None
        return AccountView.from_hash(str(account_id), answers[0])

    def holder_names(self, account_ids: Iterable[UUID | str]) -> dict[str, str]:
        """The holder name of each of ``account_ids`` that the live version holds, in one MULTI (the dashboard's
        names beside ids); an account it does not hold is left out."""
        wanted = list(dict.fromkeys(str(account_id) for account_id in account_ids))

        def read(pipe: Any, version: int) -> None:
            for account_id in wanted:
                pipe.hget(self.keys.account(version, account_id), "holder_name")

        version, answers = self._read(read)
        if version is None:
            return {}
        return {account_id: name for account_id, name in zip(wanted, answers, strict=True) if name is not None}

    def all_accounts(self) -> dict[str, AccountView]:
        """Every account of the live version (a SCAN: for checkers and tools, not for request paths)."""
        version = self.live_version()
        if version is None:
            return {}
        prefix = self.keys.account(version, "")
        found: dict[str, AccountView] = {}
        for key in self._client.scan_iter(match=self.keys.version_pattern(version), count=1000):
            if key.startswith(prefix):
                row: dict[str, str] = self._client.hgetall(key)  # type: ignore[assignment]
                found[key[len(prefix) :]] = AccountView.from_hash(key[len(prefix) :], row)
        if self.live_version() != version:
            return self.all_accounts()
        return found

    def overview(self, top: int = 10) -> Overview:
        currencies: list[str] = []

        def read(pipe: Any, version: int) -> None:
            pipe.hget(self.keys.meta(version), "reflected_position")
            pipe.hgetall(self.keys.account_counts(version))
            pipe.hgetall(self.keys.volume(version))
            pipe.hgetall(self.keys.posted(version))
            for currency in currencies:
                pipe.zrevrange(self.keys.top(version, currency), 0, top - 1, withscores=True)

        for _ in range(_ATTEMPTS):  # first learn the currencies, then read everything at once
            version, answers = self._read(read)
            if version is None:
                return Overview(None, 0)
            reflected, counts, volume, posted, *ranked = answers
            if sorted(set(volume) | set(posted)) == currencies:
                break
            currencies[:] = sorted(set(volume) | set(posted))
        else:
            raise RuntimeError("the currencies kept changing while reading")
        return Overview(
            version=version,
            reflected_position=int(reflected or 0),
            accounts_by_status={status: int(n) for status, n in counts.items() if int(n)},
            volume={currency: int(v) for currency, v in volume.items()},
            posted_transfers={currency: int(n) for currency, n in posted.items()},
            top_accounts={
                currency: [(account, int(score)) for account, score in rows]
                for currency, rows in zip(currencies, ranked, strict=True)
            },
        )

    def _read(self, queue: Callable[[Any, int], None]) -> tuple[int | None, list[Any]]:
        """Run ``queue``'s reads of the live version in one MULTI, checking the pointer did not move."""
        for _ in range(_ATTEMPTS):
            version = self.live_version()
            if version is None:
                return None, []
            pipe = self._client.pipeline(transaction=True)
            pipe.get(self.keys.live)
            queue(pipe, version)
            live, *answers = pipe.execute()
            if live is not None and int(live) == version:
                return version, answers
        raise RuntimeError("the live version kept changing while reading")
