"""The content digest, the event hash and the signed tree head, each against its contract written out by hand."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventledger_events.audit import (
    GENESIS_HASH,
    MalformedTreeHead,
    content_digest,
    event_hash,
    exported_content_digest,
    format_timestamp,
    key_id,
    parse_tree_head,
    sign_tree_head,
    to_micros,
    verify_tree_head,
)

EVENT_ID = uuid.UUID("6f1c2a44-0b7e-4f3e-9d2a-1c5b8e7f0a11")
CORRELATION = uuid.UUID("0a0b0c0d-1111-4222-8333-444455556666")
OCCURRED = datetime(2026, 12, 5, 21, 30, 0, 123456, tzinfo=UTC)
CANONICAL = (
    '{"actor":"teller-7","causation_id":null,"correlation_id":"0a0b0c0d-1111-4222-8333-444455556666",'
    '"event_id":"6f1c2a44-0b7e-4f3e-9d2a-1c5b8e7f0a11","event_type":"account.credited.v1",'
    '"occurred_at":1796506200123456,"payload":{"amount":"12.50","memo":"café"},"schema_version":1,'
    '"stream_id":"account-0001","stream_version":3}'
)


def digest() -> bytes:
    return content_digest(
        stream_id="account-0001",
        stream_version=3,
        event_id=EVENT_ID,
        event_type="account.credited.v1",
        schema_version=1,
        occurred_at=OCCURRED,
        actor="teller-7",
        correlation_id=CORRELATION,
        causation_id=None,
        payload={"memo": "café", "amount": "12.50"},
    )


def test_the_content_digest_is_sha256_of_the_canonical_json_written_out() -> None:
    assert digest() == hashlib.sha256(CANONICAL.encode("utf-8")).digest()


def test_the_exported_form_gives_the_same_digest() -> None:
    exported = {
        "stream_id": "account-0001",
        "stream_version": 3,
        "event_id": str(EVENT_ID),
        "event_type": "account.credited.v1",
        "schema_version": 1,
        "occurred_at": "2026-12-05T22:30:00.123456+01:00",
        "actor": "teller-7",
        "correlation_id": str(CORRELATION),
        "causation_id": None,
        "payload": {"amount": "12.50", "memo": "café"},
    }
    assert exported_content_digest(exported) == digest()
    assert exported_content_digest({**exported, "payload": {"amount": "12.51", "memo": "café"}}) != digest()


def test_microseconds_are_exact_far_from_the_epoch_and_before_it() -> None:
    assert to_micros(OCCURRED) == 1_796_506_200_123_456
    assert to_micros(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == -1
    assert to_micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))) > 0
    with pytest.raises(ValueError, match="time zone"):
        to_micros(datetime(2026, 1, 1))
    assert format_timestamp(OCCURRED) == "2026-12-05T21:30:00.123456+00:00"


def test_the_event_hash_is_the_domain_the_digest_the_position_the_time_and_the_previous_hash() -> None:
    written_out = hashlib.sha256(
        b"eventledger-event-v1\x00"
        + digest()
        + (42).to_bytes(8, "big")
        + (-7).to_bytes(8, "big", signed=True)
        + bytes(32)
    ).digest()
    assert event_hash(digest(), 42, -7, GENESIS_HASH) == written_out
    assert event_hash(digest(), 43, -7, GENESIS_HASH) != written_out
    assert event_hash(digest(), 42, -7, written_out) != written_out


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ROOT = hashlib.sha256(b"root").digest()


def test_a_tree_head_signs_the_domain_the_size_the_time_and_the_root() -> None:
    head = sign_tree_head(KEY, 8, ROOT, 1_796_506_200_000)
    message = b"eventledger-sth-v1\x00" + (8).to_bytes(8, "big") + (1_796_506_200_000).to_bytes(8, "big") + ROOT
    KEY.public_key().verify(head.signature, message)
    raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert head.key_id == hashlib.sha256(raw).hexdigest()[:16] == key_id(raw)
    assert head.to_json() == {
        "tree_size": 8,
        "root_hash": ROOT.hex(),
        "timestamp": 1_796_506_200_000,
        "key_id": head.key_id,
        "signature": base64.b64encode(head.signature).decode(),
    }
    assert parse_tree_head(head.encode()) == head


@pytest.mark.parametrize(
    "public_key",
    [
        KEY.public_key(),
        KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii"),
    ],
    ids=["object", "raw", "pem", "pem text"],
)
def test_a_tree_head_verifies_with_the_key_in_any_form(public_key: object) -> None:
    assert verify_tree_head(sign_tree_head(KEY, 8, ROOT, 1), public_key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 9},
        {"timestamp": 2},
        {"root_hash": hashlib.sha256(b"other").digest()},
        {"key_id": "0000000000000000"},
        {"signature": bytes(64)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_field_breaks_the_tree_head(change: dict[str, object]) -> None:
    head = sign_tree_head(KEY, 8, ROOT, 1)
    assert verify_tree_head(head, KEY.public_key())
    assert not verify_tree_head(replace(head, **change), KEY.public_key())  # type: ignore[arg-type]


def test_another_key_does_not_verify() -> None:
    assert not verify_tree_head(sign_tree_head(KEY, 8, ROOT, 1), Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"tree_size": 1}',
        '{"tree_size": -1, "root_hash": "' + "00" * 32 + '", "timestamp": 1, "key_id": "k", "signature": ""}',
        '{"tree_size": true, "root_hash": "' + "00" * 32 + '", "timestamp": 1, "key_id": "k", "signature": ""}',
        '{"tree_size": 1, "root_hash": "00", "timestamp": 1, "key_id": "k", "signature": ""}',
        '{"tree_size": 1, "root_hash": "' + "00" * 32 + '", "timestamp": 1, "key_id": "k", "signature": "!!"}',
    ],
)
def test_text_that_is_no_tree_head_is_refused(text: str) -> None:
    with pytest.raises(MalformedTreeHead):
        parse_tree_head(text)
