"""The data-key store port: where each data subject's key lives, wrapped, and how it is destroyed (crypto-shredding).

Contract of :class:`DataKeyStore` (both backends pass tests/contract/test_data_key_store_contract.py):

- :meth:`key_for` gives a subject's data key, made on first use; callers racing for a new subject all get the same
  key. An erased subject gets no new key: :class:`SubjectErased` (personal data about it must not be written again).
- :meth:`keys` finds keys by id for opening sealed values: ``None`` for the key of an erased subject;
  :class:`UnknownDataKey` for an id the store never held (a value sealed elsewhere, or a bug).
- :meth:`erase` destroys the subject's key and records who erased it, when and why; erasing again changes nothing
  and answers the first record. After it no reader of this store opens the subject's values.
- Keys are stored wrapped (AES-256-GCM) by a key-encryption key (:class:`KeyEncryptionKeys`): the current one wraps,
  the previous ones still unwrap, :meth:`rewrap` moves every key to the current one. A key wrapped by a KEK the store
  is not given raises :class:`KeyUnavailable` naming that KEK.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from eventledger_events.personal import KEY_BYTES, NONCE_BYTES, DataKey


class SubjectErased(Exception):
    """The subject was erased: it has no key, and gets none."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"{subject} was erased: personal data about it cannot be recorded")
        self.subject = subject


class UnknownDataKey(KeyError):
    """A key id the store never held."""


class KeyUnavailable(Exception):
    """A stored key cannot be unwrapped: it is wrapped by a key-encryption key the store was not given."""


@dataclass(frozen=True)
class Erasure:
    """Who erased a subject, when, and why."""

    subject: str
    key_id: str
    erased_at: datetime
    erased_by: str
    reason: str


class KeyEncryptionKeys:
    """The current key-encryption key (wraps) and the previous ones (still unwrap, during a rotation).

    Each is 32 bytes; its id is the first 8 bytes of its SHA-256, in hex: stored beside each wrapped key, it tells
    which KEK a key needs without revealing it.
    """

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        for kek in (current, *previous):
            if len(kek) != KEY_BYTES:
                raise ValueError(f"a key-encryption key is {KEY_BYTES} bytes")
        self.current_id = kek_id(current)
        self._keys = {kek_id(kek): kek for kek in (*previous, current)}

    def wrap(self, key: DataKey) -> tuple[str, bytes]:
        """(the current KEK's id, nonce || AES-GCM of the key, bound to its key id)."""
        nonce = os.urandom(NONCE_BYTES)
        aead = AESGCM(self._keys[self.current_id])
        return self.current_id, nonce + aead.encrypt(nonce, key.secret, key.key_id.encode())

    def unwrap(self, key_id: str, subject: str, kek: str, wrapped: bytes) -> DataKey:
        known = self._keys.get(kek)
        if known is None:
            raise KeyUnavailable(f"data key {key_id} is wrapped by key-encryption key {kek}, which is not configured")
        try:
            secret = AESGCM(known).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise KeyUnavailable(f"data key {key_id} does not unwrap with key-encryption key {kek}") from None
        return DataKey(key_id, subject, secret)


def derive_kek(secret: str) -> bytes:
    """The 32-byte key-encryption key of a configured secret (HKDF-SHA256; any text of enough entropy)."""
    if not secret:
        raise ValueError("a key-encryption key must not be empty")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_KEK_INFO).derive(secret.encode())


_KEK_INFO = b"eventledger personal-data key-encryption key v1"


def kek_id(kek: bytes) -> str:
    return hashlib.sha256(kek).digest()[:8].hex()


class DataKeyStore(ABC):
    @abstractmethod
    def key_for(self, subject: str) -> DataKey:
        """The subject's data key, made on first use; :class:`SubjectErased` after an erasure."""

    @abstractmethod
    def keys(self, key_ids: Iterable[str]) -> dict[str, DataKey | None]:
        """Each id's key, ``None`` when its subject was erased; :class:`UnknownDataKey` for an id never held."""

    @abstractmethod
    def erase(self, subject: str, *, erased_by: str, reason: str) -> Erasure:
        """Destroy the subject's key (a subject without a key yet gets an erased entry, so none is made later);
        the first record on a repeat."""

    @abstractmethod
    def erasure(self, subject: str) -> Erasure | None:
        """The record of the subject's erasure, or ``None``."""

    @abstractmethod
    def rewrap(self) -> int:
        """Wrap every live key with the current KEK; how many were wrapped by another."""

    def close(self) -> None:  # noqa: B027 - a store without resources has nothing to close
        """Release connections."""
