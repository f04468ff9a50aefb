"""Machine clients of the authorization server, their hashed secrets, and the port that stores them.

A client has an id, a name, the roles its tokens carry (writer, reader, auditor, admin), optional extra scopes,
and a secret that is shown once, at creation or rotation, and stored only as an argon2id hash
(:class:`SecretHasher`). A disabled client obtains no token, and the tokens it holds are refused from the next
request (the revocation list, :mod:`eventledger_gateway.oauth.revocation`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

CLIENT_ID_PREFIX = "client-"
CLIENT_ID_PATTERN = re.compile(r"^client-[0-9a-f]{20}$")
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client as the admin sees it (never its secret)."""

    client_id: str
    name: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: datetime
    secret_rotated_at: datetime
    disabled_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    @property
    def grantable(self) -> frozenset[str]:
        """What a token of this client may carry in its ``scope``: its roles and its extra scopes."""
        return frozenset(self.roles) | frozenset(self.scopes)


@dataclass(frozen=True, slots=True)
class StoredClient:
    """A client with the hash of its secret, as stored."""

    client: Client
    secret_hash: str


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(10)


def is_client_id(text: str) -> bool:
    """Whether ``text`` has the form of a client id: anything else is no client, without asking the store."""
    return CLIENT_ID_PATTERN.fullmatch(text) is not None


def new_secret() -> str:
    """A client secret: 32 random bytes, URL-safe (it travels in a Basic header or a form)."""
    return secrets.token_urlsafe(SECRET_BYTES)


class SecretHasher:
    """argon2id (RFC 9106) with argon2-cffi's default parameters. Hashing and checking cost tens of
    milliseconds of CPU on purpose, so both run in a worker thread, never on the event loop."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # Checked against when the client id is unknown, so that an unknown id costs what a wrong secret costs.
        self._decoy = self._hasher.hash(new_secret())

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def matches(self, secret_hash: str | None, secret: str) -> bool:
        return await asyncio.to_thread(self._matches, secret_hash, secret)

    def _matches(self, secret_hash: str | None, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash or self._decoy, secret) and secret_hash is not None
        except (VerificationError, InvalidHashError):
            return False


class ClientRegistry(Protocol):
    """Where clients are kept. Contract, for every implementation:

    - :meth:`add` stores a new client; a client id already taken raises :class:`ClientExists`;
    - :meth:`get` answers the stored client or ``None``; :meth:`all` every client, oldest first;
    - :meth:`set_disabled` sets or clears ``disabled_at`` and :meth:`replace_secret` stores a new hash and its
      time; both answer the updated client, or ``None`` for an unknown id, and are visible to every reader at once.
    """

    async def add(self, stored: StoredClient) -> None: ...
    async def get(self, client_id: str) -> StoredClient | None: ...
    async def all(self) -> list[Client]: ...
    async def set_disabled(self, client_id: str, at: datetime | None) -> Client | None: ...
    async def replace_secret(self, client_id: str, secret_hash: str, at: datetime) -> Client | None: ...


class ClientExists(Exception):
    """The client id is taken."""


class InMemoryClientRegistry:
    """:class:`ClientRegistry` in a dict, for unit tests and a gateway without a database."""

    def __init__(self) -> None:
        self._clients: dict[str, StoredClient] = {}

    async def add(self, stored: StoredClient) -> None:
        if stored.client.client_id in self._clients:
            raise ClientExists(stored.client.client_id)
        self._clients[stored.client.client_id] = stored

    async def get(self, client_id: str) -> StoredClient | None:
        return self._clients.get(client_id)

    async def all(self) -> list[Client]:
        return sorted((s.client for s in self._clients.values()), key=lambda c: (c.created_at, c.client_id))

    async def set_disabled(self, client_id: str, at: datetime | None) -> Client | None:
        stored = self._clients.get(client_id)
        if stored is None:
            return None
        updated = StoredClient(replace(stored.client, disabled_at=at), stored.secret_hash)
        self._clients[client_id] = updated
        return updated.client

    async def replace_secret(self, client_id: str, secret_hash: str, at: datetime) -> Client | None:
        stored = self._clients.get(client_id)
        if stored is None:
            return None
        updated = StoredClient(replace(stored.client, secret_rotated_at=at), secret_hash)
        self._clients[client_id] = updated
        return updated.client
