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
- **The contracts mark what is personal**: an event class's ``PERSONAL_FIELDS`` (the holder name, every movement's
  description) are sealed under the keys of the subjects its ``PERSONAL_SUBJECTS`` fields name (the accounts; the
  currency's external account is nobody). A value about two subjects (a transfer's description) is sealed in layers,
  once per subject (:func:`seal_for`), so that erasing either subject makes it unreadable (:func:`open_with`).
  Empty text stays empty: there is nothing to protect.

This module is pure apart from ``cryptography``; it never logs a plaintext or a key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventledger_events.base import DomainEvent
from eventledger_events.streams import external_account_id

PREFIX = "pii:1:"
"""Every sealed value starts so; the ``1`` is the format's version."""
ERASED = "[erased]"
"""What a reader shows in place of a value whose subject was erased."""
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
_SEALED = re.compile(r"^pii:1:([0-9a-f]{32}):([A-Za-z0-9_-]+={0,2})$")
MAX_LAYERS = 4
"""The most layers a sealed value may have (two today: the two parties of a movement)."""

KeyLookup = Callable[[str], "DataKey | None"]
"""A data key by id; ``None`` when its subject was erased."""
E = TypeVar("E", bound=DomainEvent)


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


def seal_for(plaintext: str, keys: Sequence[DataKey], field_name: str) -> str:
    """``plaintext`` sealed once per key, each layer sealing the previous one: opening needs every key."""
    if not keys:
        raise ValueError("sealing needs at least one key")
    if len(keys) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} layers")
    sealed = plaintext
    for key in keys:
        sealed = seal(sealed, key, field_name)
    return sealed


def open_with(value: str, lookup: KeyLookup, field_name: str) -> str:
    """The plaintext of ``value`` (every layer opened with the key ``lookup`` finds); :data:`ERASED` when a layer's
    key was destroyed. A value that is not sealed is answered as is (empty text, or written before sealing)."""
    for _ in range(MAX_LAYERS):
        if not is_sealed(value):
            return value
        key = lookup(key_id_of(value))
        if key is None:
            return ERASED
        value = open_sealed(value, key, field_name)
    if is_sealed(value):
        raise SealError(f"more than {MAX_LAYERS} layers")
    return value


def subject_of(account_id: UUID | str) -> str:
    """The data subject an account's personal data belongs to: ``account:<id>``."""
    return f"account:{account_id}"


def personal_subjects(event: DomainEvent) -> tuple[str, ...]:
    """The subjects whose keys seal ``event``'s personal fields, in a stable order: the accounts its
    ``PERSONAL_SUBJECTS`` fields name, without the currency's external account (it has no holder)."""
    currency = getattr(event, "currency", None)
    external = external_account_id(currency) if isinstance(currency, str) else None
    accounts = (getattr(event, name) for name in event.PERSONAL_SUBJECTS)
    return tuple(dict.fromkeys(subject_of(account) for account in accounts if account != external))


def seal_event(event: E, key_for: Callable[[str], DataKey]) -> E:
    """``event`` with each non-empty personal field that is not sealed yet sealed under its subjects' keys
    (``key_for`` gives a subject's key); the same object when there is nothing to seal."""
    updates: dict[str, str] = {}
    keys: list[DataKey] | None = None
    for name in sorted(event.PERSONAL_FIELDS):
        value = getattr(event, name)
        if not value or is_sealed(value):
            continue
        if keys is None:
            subjects = personal_subjects(event)
            if not subjects:
                raise ValueError(f"{event.full_name()} names no subject to seal {name} for")
            keys = [key_for(subject) for subject in subjects]
        updates[name] = seal_for(value, keys, name)
    return event.model_copy(update=updates) if updates else event


def open_event(event: E, lookup: KeyLookup) -> E:
    """``event`` with its personal fields opened (:data:`ERASED` where a key was destroyed)."""
    updates = {
        name: open_with(value, lookup, name)
        for name in event.PERSONAL_FIELDS
        if is_sealed(value := getattr(event, name))
    }
    return event.model_copy(update=updates) if updates else event


def open_fields(fields: frozenset[str], data: Mapping[str, Any], lookup: KeyLookup) -> dict[str, Any]:
    """A copy of a payload's plain data (stored JSON) with the ``fields`` opened."""
    opened = dict(data)
    for name in fields:
        value = opened.get(name)
        if isinstance(value, str) and is_sealed(value):
            opened[name] = open_with(value, lookup, name)
    return opened


def _associated(key_id: str, field_name: str) -> bytes:
    return f"{key_id}|{field_name}".encode()


__all__ = [
    "ERASED",
    "KEY_BYTES",
    "MAX_LAYERS",
    "PREFIX",
    "DataKey",
    "KeyLookup",
    "SealError",
    "is_sealed",
    "key_id_of",
    "open_event",
    "open_fields",
    "open_sealed",
    "open_with",
    "personal_subjects",
    "seal",
    "seal_event",
    "seal_for",
    "subject_of",
]
