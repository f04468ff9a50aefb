"""Explicit mappings of the three indices. ``dynamic: strict`` everywhere: a field the code does not declare is a
bug, refused by Elasticsearch per document (the bulk writer then fails the batch).

Only what the server core offers is used (the integ-test-zip distribution lacks ``analysis-common``): the
``standard`` analyzer for text, the built-in ``lowercase`` normalizer for case-insensitive keywords.
"""

from __future__ import annotations

from typing import Any

KEYWORD: dict[str, Any] = {"type": "keyword"}
LONG: dict[str, Any] = {"type": "long"}
DATE: dict[str, Any] = {"type": "date"}

TRANSFERS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "transfer_id": KEYWORD,
        "kind": KEYWORD,
        "status": KEYWORD,
        "from_account_id": KEYWORD,
        "to_account_id": KEYWORD,
        # Both names are copied into one field, so that a query matches a holder on either side.
        "from_holder_name": {"type": "text", "analyzer": "standard", "copy_to": "holder_names"},
        "to_holder_name": {"type": "text", "analyzer": "standard", "copy_to": "holder_names"},
        "holder_names": {"type": "text", "analyzer": "standard"},
        # Accounts whose holder name was not known when the document was written (repaired later).
        "pending_holders": KEYWORD,
        "amount": LONG,
        "currency": KEYWORD,
        "description": {"type": "text", "analyzer": "standard"},
        "created_at": DATE,
        "updated_at": DATE,
        "expires_at": DATE,
        "stream_version": LONG,
        "position": LONG,
    },
}

HOLDERS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "account_id": KEYWORD,
        "holder_name": {"type": "text", "analyzer": "standard"},
        "currency": KEYWORD,
        "position": LONG,
    },
}

PROGRESS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": KEYWORD,  # offset | mark | parked | cap
        "topic": KEYWORD,
        "partition": {"type": "integer"},
        "next_offset": LONG,
        "last_position": LONG,
        "caught_up_position": LONG,
        "offset": LONG,
        "position": LONG,
        "index": KEYWORD,
        "account_id": KEYWORD,  # kind erasure: an erased holder whose old bytes are not purged yet
        "recorded_at": DATE,
    },
}


def index_settings(*, replicas: int, building: bool = False) -> dict[str, Any]:
    """One shard (the read model is small and single-node here). While a version is being built nothing reads it
    and a crash discards it, so it is not refreshed and its translog is synced in the background rather than at
    every bulk request; :data:`LIVE_SETTINGS` restores both before it goes live."""
    settings: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": replicas}
    if building:
        settings |= {"refresh_interval": "-1", "translog": {"durability": "async"}}
    return settings


LIVE_SETTINGS: dict[str, Any] = {"refresh_interval": None, "translog": {"durability": "request"}}
"""The defaults a live version runs with: refreshed every second, every bulk request synced before it answers."""
