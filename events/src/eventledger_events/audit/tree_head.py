"""Signed tree heads: the notary's Ed25519 signature over the size and root of the log at one moment.

Contract (fixed; the notary and the audit API use exactly this). The JSON form::

    {"tree_size": int, "root_hash": hex (32 bytes), "timestamp": int (milliseconds since the Unix epoch),
     "key_id": str, "signature": base64 (64 bytes)}

The signature is Ed25519 over ``b"eventledger-sth-v1\\x00" || tree_size (8 bytes, big-endian) || timestamp (8 bytes,
big-endian) || root_hash (32 bytes)``. ``key_id`` is the first 16 hex characters of SHA-256 over the raw 32-byte
public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STH_DOMAIN = b"eventledger-sth-v1\x00"


class MalformedTreeHead(ValueError):
    """The text is not a tree head of the contract's form."""


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: int
    key_id: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def encode(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


def signed_bytes(tree_size: int, timestamp: int, root_hash: bytes) -> bytes:
    """What the signature covers."""
    if len(root_hash) != 32:
        raise ValueError("a root hash is 32 bytes")
    return STH_DOMAIN + tree_size.to_bytes(8, "big") + timestamp.to_bytes(8, "big") + root_hash


def key_id(public_key: Ed25519PublicKey | bytes | str) -> str:
    """The first 16 hex characters of SHA-256 over the raw public key."""
    raw = load_public_key(public_key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_tree_head(private_key: Ed25519PrivateKey, tree_size: int, root_hash: bytes, timestamp: int) -> TreeHead:
    """A tree head for ``tree_size`` leaves with root ``root_hash`` at ``timestamp`` (milliseconds since the epoch)."""
    signature = private_key.sign(signed_bytes(tree_size, timestamp, root_hash))
    return TreeHead(tree_size, root_hash, timestamp, key_id(private_key.public_key()), signature)


def verify_tree_head(head: TreeHead, public_key: Ed25519PublicKey | bytes | str) -> bool:
    """Whether ``head`` carries a valid signature by ``public_key`` (an object, a PEM, or the raw 32 bytes).

    The ``key_id`` must name that key too.
    """
    key = load_public_key(public_key)
    if head.key_id != key_id(key):
        return False
    try:
        key.verify(head.signature, signed_bytes(head.tree_size, head.timestamp, head.root_hash))
    except InvalidSignature:
        return False
    return True


def load_public_key(public_key: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from the object itself, a PEM (text or bytes), or the raw 32 bytes.

    Raises ``ValueError`` for anything else.
    """
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    data = public_key.encode("ascii") if isinstance(public_key, str) else public_key
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    loaded = serialization.load_pem_public_key(data)
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return loaded


def parse_tree_head(value: str | bytes | dict[str, Any]) -> TreeHead:
    """A :class:`TreeHead` from its JSON text or the decoded object; :class:`MalformedTreeHead` if it is not one."""
    try:
        data = json.loads(value) if isinstance(value, str | bytes) else value
    except ValueError as error:
        raise MalformedTreeHead(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise MalformedTreeHead("not a JSON object")
    missing = {"tree_size", "root_hash", "timestamp", "key_id", "signature"} - data.keys()
    if missing:
        raise MalformedTreeHead(f"missing {', '.join(sorted(missing))}")
    tree_size, timestamp = data["tree_size"], data["timestamp"]
    for name, number in (("tree_size", tree_size), ("timestamp", timestamp)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 2**63:
            raise MalformedTreeHead(f"{name} is not a non-negative 64-bit integer")
    if not isinstance(data["key_id"], str):
        raise MalformedTreeHead("key_id is not a string")
    try:
        root_hash = bytes.fromhex(data["root_hash"])
        signature = base64.b64decode(data["signature"], validate=True)
    except (TypeError, ValueError, binascii.Error) as error:
        raise MalformedTreeHead(f"root_hash or signature is not encoded as the contract says: {error}") from error
    if len(root_hash) != 32:
        raise MalformedTreeHead("root_hash is not 32 bytes")
    return TreeHead(tree_size, root_hash, timestamp, data["key_id"], signature)
