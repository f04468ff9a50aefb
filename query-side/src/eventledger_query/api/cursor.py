"""Opaque pagination cursors: base64url of a small JSON document; a tampered cursor is a named 422."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from eventledger_query.api.problems import invalid


def encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise invalid("query.cursor", "not a cursor this API gave out") from exc
    if not isinstance(decoded, dict):
        raise invalid("query.cursor", "not a cursor this API gave out")
    return decoded
