"""Personal data in events, sealed with its data subject's key: what makes erasure possible (crypto-shredding).

Contract (the event store, Kafka, snapshots and the dead-letter topic hold personal fields only sealed):

- **A sealed value is text**: ``pii:1:<key_id>:<base64url(nonce || ciphertext || tag)>``, AES-256-GCM with a random
  96-bit nonce and the associated data ``<key_id>|<field>``. The associated data binds a value to its key and to the
  field it was sealed for: a value copied into another field, or under another key id, does not open.
- **The event schemas keep personal fields as strings**: a sealed value is a string, so the Avro and JSON schemas do
  not change shape, and a reader without the key sees an opaque token (no name, no description).
- **A key id names one data key of one subject** (an account holder); the data keys live in a key store, wrapped by
  a key-encryption key (``eventledger_runtime.personal``). Erasing a subject destroys its data key: from then on
  none of its values opens anywhere, and readers show :data:`ERASED` in their place.
- **Hashes stay valid**: the verifiable log hashes the sealed text, so an erasure changes no event and no proof.

This module is pure apart from ``cryptography``; it never logs a plaintext or a key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pii:1:"
"""Every sealed value starts so; the ``1`` is the format's version."""
ERASED = "[erased]"
"""What a reader shows in place of a value whose subject was erased."""
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
_SEALED = re.compile(r"^pii:1:([0-9a-f]{32}):([A-Za-z0-9_-]+={0,2})$")


class SealError(ValueError):
    """A value is not sealed, or does not open with the key and field given (tampered, or sealed for another)."""


@dataclass(frozen=True)
class DataKey:
    """One subject's data key: 32 random bytes under a 32-hex-digit id."""

    key_id: str
    subject: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise ValueError("a data key id is 32 lowercase hex digits")
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes")

    @classmethod
    def generate(cls, subject: str) -> DataKey:
        return cls(os.urandom(16).hex(), subject, AESGCM.generate_key(bit_length=256))


def is_sealed(value: object) -> bool:
    """Whether ``value`` has the sealed form (it may still not open)."""
    return isinstance(value, str) and _SEALED.match(value) is not None


def key_id_of(value: str) -> str:
    """The id of the key ``value`` is sealed with; :class:`SealError` if it is not sealed."""
    match = _SEALED.match(value)
    if match is None:
        raise SealError("not a sealed value")
    return match.group(1)


def seal(plaintext: str, key: DataKey, field_name: str) -> str:
    """``plaintext`` sealed with ``key`` for the field ``field_name``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key.secret).encrypt(nonce, plaintext.encode("utf-8"), _associated(key.key_id, field_name))
    return PREFIX + key.key_id + ":" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed(value: str, key: DataKey, field_name: str) -> str:
    """The plaintext of ``value``; :class:`SealError` if it is not sealed with ``key`` for ``field_name`` or was
    changed."""
    match = _SEALED.match(value)
    if match is None:
        raise SealError("not a sealed value")
    if match.group(1) != key.key_id:
        raise SealError(f"sealed with key {match.group(1)}, not {key.key_id}")
    try:
        raw = base64.urlsafe_b64decode(match.group(2))
    except (binascii.Error, ValueError):
        raise SealError("the sealed value is not base64") from None
    if len(raw) < NONCE_BYTES + 16:
        raise SealError("the sealed value is too short")
    try:
        plain = AESGCM(key.secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(key.key_id, field_name))
    except InvalidTag:
        raise SealError(f"the value does not open as {field_name} with key {key.key_id}") from None
    return plain.decode("utf-8")


def _associated(key_id: str, field_name: str) -> bytes:
    return f"{key_id}|{field_name}".encode()


__all__ = [
    "ERASED",
    "KEY_BYTES",
    "PREFIX",
    "DataKey",
    "SealError",
    "is_sealed",
    "key_id_of",
    "open_sealed",
    "seal",
]
