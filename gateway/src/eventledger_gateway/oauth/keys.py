"""Signing keys: Ed25519 (JWS ``EdDSA``), each with a ``kid``, rotated on a schedule and on demand, shared by
every gateway replica through a :class:`SigningKeyStore`, and published as a JWKS (RFC 7517).

Lifecycle of a key: it is created active and published at once, but signs only once every replica has loaded it
(one refresh interval and a second later: until then the previous key goes on signing), so that no replica ever
sees a token signed with a key it does not know yet. When a newer key replaces it, it is retired but stays published
until ``published_until`` — the retirement time plus the longest life of a token it may have signed (the token
lifetime, the clock-skew leeway, and that refresh interval). After that it is no longer published and its tokens
are refused. The very first key signs at once (there is no previous one).
Private keys are stored encrypted (PKCS#8 with the key-encryption key); they are decrypted only in memory. A
key-encryption key is rotated by changing it: the active key, which the new one cannot decrypt, is then replaced
by a new key (when it is older than the gateway process, so that two gateways given different keys cannot replace
each other's keys forever); the retired keys stay published, since their public halves are stored in clear.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from eventledger_gateway.oauth.clients import new_secret

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
UNKNOWN_KID_REFRESH_SECONDS = 1.0
"""A token with an unknown ``kid`` reloads the keys at most this often (a key another replica just made)."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    kid: str
    algorithm: str
    private_key: bytes
    """PKCS#8 PEM, encrypted with the key-encryption key."""
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None = None
    published_until: datetime | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


class SigningKeyStore(Protocol):
    """Where the signing keys are kept. Contract, for every implementation:

    - :meth:`published` answers the active key (if any) and every retired key whose ``published_until`` is after
      ``now``, newest first;
    - :meth:`rotate` atomically retires the active key (``retired_at``, ``published_until``) and stores ``new``
      as the active one; with ``only_if_older_than``, it does nothing when the active key was created after that
      time. Of concurrent callers whose condition holds, exactly one rotates; it answers whether it rotated.
    """

    async def published(self, now: datetime) -> list[StoredKey]: ...
    async def rotate(
        self, new: StoredKey, *, retire_at: datetime, publish_until: datetime, only_if_older_than: datetime | None
    ) -> bool: ...


class InMemorySigningKeyStore:
    """:class:`SigningKeyStore` in a list, for unit tests and a gateway without a database."""

    def __init__(self) -> None:
        self._keys: list[StoredKey] = []
        self._lock = asyncio.Lock()

    async def published(self, now: datetime) -> list[StoredKey]:
        kept = [k for k in self._keys if k.active or (k.published_until is not None and k.published_until > now)]
        return sorted(kept, key=lambda k: k.created_at, reverse=True)

    async def rotate(
        self, new: StoredKey, *, retire_at: datetime, publish_until: datetime, only_if_older_than: datetime | None
    ) -> bool:
        async with self._lock:
            active = next((k for k in self._keys if k.active), None)
            if active is not None and only_if_older_than is not None and active.created_at > only_if_older_than:
                return False
            if active is not None:
                retired = StoredKey(
                    active.kid,
                    active.algorithm,
                    active.private_key,
                    active.public_jwk,
                    active.created_at,
                    retire_at,
                    publish_until,
                )
                self._keys = [retired if k.kid == active.kid else k for k in self._keys]
            self._keys.append(new)
            return True


@dataclass(frozen=True, slots=True)
class _Loaded:
    stored: StoredKey
    public: Ed25519PublicKey


class KeyRing:
    """One gateway's view of the signing keys: the active private key to sign with, the published public keys to
    verify with, the JWKS. :meth:`maintain` (called every ``refresh_seconds`` by the gateway) reloads them and
    rotates a key older than ``rotation_seconds``; :meth:`rotate` does it on demand."""

    def __init__(
        self,
        store: SigningKeyStore,
        *,
        encryption_key: str,
        token_lifetime_seconds: float,
        rotation_seconds: float,
        refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._password = encryption_key.encode()
        self._publish_for = timedelta(seconds=token_lifetime_seconds + refresh_seconds + 1)
        self._rotation = timedelta(seconds=rotation_seconds)
        self._before_signing = timedelta(seconds=refresh_seconds + 1)
        self._clock = clock
        self._keys: dict[str, _Loaded] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}  # decrypted once per key
        self._last_load = float("-inf")
        self._loading = asyncio.Lock()
        self._started = self.now()
        self._undecryptable: str | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def maintain(self) -> None:
        """Reload; make the first key, or replace one older than the rotation period (one replica does it)."""
        await self.load()
        active = self.active()
        if active is None or active.created_at <= self.now() - self._rotation:
            await self._rotate(only_if_older_than=self.now() - self._rotation)
        elif self._undecryptable == active.kid and active.created_at < self._started:
            log.warning("signing key %s cannot be decrypted with this key-encryption key: replacing it", active.kid)
            await self._rotate(only_if_older_than=active.created_at)

    async def rotate(self) -> StoredKey:
        """Replace the active key now; answers the new one."""
        return await self._rotate(only_if_older_than=None)

    async def load(self) -> None:
        async with self._loading:
            stored = await self._store.published(self.now())
            self._keys = {k.kid: _Loaded(k, _public_key(k.public_jwk)) for k in stored}
            self._undecryptable = None
            for key in stored[:2]:  # the active key and the one it replaced, which signs until it may
                if key.kid not in self._private:
                    try:
                        self._private[key.kid] = self._decrypt(key.private_key)
                    except (ValueError, TypeError):
                        self._undecryptable = self._undecryptable or key.kid
                        log.error("signing key %s cannot be decrypted with this key-encryption key", key.kid)
            self._private = {kid: key for kid, key in self._private.items() if kid in self._keys}
            self._last_load = time.monotonic()

    def active(self) -> StoredKey | None:
        return next((k.stored for k in self._keys.values() if k.stored.active), None)

    def published(self) -> list[StoredKey]:
        return sorted((k.stored for k in self._keys.values()), key=lambda k: k.created_at, reverse=True)

    def signing_key(self) -> tuple[str, Ed25519PrivateKey] | None:
        """The id and private key to sign with now: the newest key every replica has had time to load (while none
        has, the oldest published: the first key ever), or ``None`` before a key exists or could be decrypted."""
        published = self.published()
        settled = self.now() - self._before_signing
        chosen = next((k for k in published if k.created_at <= settled), published[-1] if published else None)
        if chosen is None or chosen.kid not in self._private:
            return None
        return chosen.kid, self._private[chosen.kid]

    async def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """The published key ``kid``; an unknown id reloads the keys first (at most once a second)."""
        loaded = self._keys.get(kid)
        if loaded is None and time.monotonic() - self._last_load >= UNKNOWN_KID_REFRESH_SECONDS:
            await self.load()
            loaded = self._keys.get(kid)
        return None if loaded is None else loaded.public

    def jwks(self) -> dict[str, Any]:
        """The JWK Set of every published key (RFC 7517 §5), newest first."""
        return {"keys": [dict(k.public_jwk) for k in self.published()]}

    async def _rotate(self, *, only_if_older_than: datetime | None) -> StoredKey:
        now = self.now()
        new = self._new_key(now)
        rotated = await self._store.rotate(
            new, retire_at=now, publish_until=now + self._publish_for, only_if_older_than=only_if_older_than
        )
        if rotated:
            log.info("signing key %s is active", new.kid)
        await self.load()
        active = self.active()
        assert active is not None  # one was just stored, or a newer one by another replica
        return active

    def _new_key(self, now: datetime) -> StoredKey:
        private = Ed25519PrivateKey.generate()
        kid = f"{now:%Y%m%dT%H%M%S}-{new_secret()[:8]}"
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
        encrypted = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password),
        )
        return StoredKey(kid, ALGORITHM, encrypted, jwk, now)

    def _decrypt(self, encrypted: bytes) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(encrypted, password=self._password)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a stored signing key is not an Ed25519 key")
        return key


def _public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    key = OKPAlgorithm.from_jwk(jwk)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the published key {jwk.get('kid')} is not an Ed25519 public key")
    return key
