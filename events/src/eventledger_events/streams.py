"""Stream ids (``<category>-<uuid>``) and the per-currency external account.

A stream id is part of the contract: it is the event store's stream key, the Kafka message key, and the path
of the audit API. The external account of a currency is the counterparty of deposits and withdrawals; it may
go negative and has no stream of its own, so deposits to different accounts never contend on one stream.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid5

ACCOUNT_CATEGORY = "account"
TRANSFER_CATEGORY = "transfer"
STREAM_CATEGORIES = (ACCOUNT_CATEGORY, TRANSFER_CATEGORY)

_STREAM_ID = re.compile(
    rf"({ACCOUNT_CATEGORY}|{TRANSFER_CATEGORY})-[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}"
)
"""A stream id in its canonical form (lower-case UUID): what ``parse_stream_id`` accepts."""

EXTERNAL_ACCOUNT_NAMESPACE = UUID("e3af0cec-58dc-5b26-9a4a-4a66fc413f3c")
"""Fixed forever: uuid5(NAMESPACE_URL, "urn:eventledger:external-account"). Changing it re-keys history."""


def account_stream_id(account_id: UUID) -> str:
    """``"account-<uuid>"``."""
    return f"{ACCOUNT_CATEGORY}-{account_id}"


def transfer_stream_id(transfer_id: UUID) -> str:
    """``"transfer-<uuid>"``."""
    return f"{TRANSFER_CATEGORY}-{transfer_id}"


def parse_stream_id(stream_id: str) -> tuple[str, UUID]:
    """Split a stream id into its category and entity id; ``ValueError`` if it is not one of ours."""
    category, separator, entity = stream_id.partition("-")
    if not separator or category not in STREAM_CATEGORIES:
        raise ValueError(f"not an EventLedger stream id: {stream_id!r}")
    entity_id = UUID(entity)
    if str(entity_id) != entity:
        raise ValueError(f"stream id must use the canonical lower-case UUID form: {stream_id!r}")
    return category, entity_id


def stream_category(stream_id: str) -> str:
    """The category prefix of a stream id, e.g. ``"account"``; ``ValueError`` as ``parse_stream_id``. Checked for
    every event decoded, so the form is matched without building the UUID."""
    match = _STREAM_ID.fullmatch(stream_id)
    if match is None:
        return parse_stream_id(stream_id)[0]  # raises, with the reason
    return match.group(1)


def external_account_id(currency: str) -> UUID:
    """The id of the external account of ``currency``: the same on every machine, forever."""
    return uuid5(EXTERNAL_ACCOUNT_NAMESPACE, currency)
