"""Avro single-object encoding for Kafka values, and the fingerprint -> schema lookup."""

from __future__ import annotations

import io

import pytest
from fastavro import schemaless_writer
from fastavro.schema import parse_schema, to_parsing_canonical_form

from eventledger_events import (
    AccountOpened,
    AccountOpenedV1,
    DomainEvent,
    MalformedMessageError,
    UnknownSchemaFingerprintError,
    decode_avro,
    default_avro_catalog,
    encode_avro,
    schema_fingerprint,
    schema_for_fingerprint,
)
from eventledger_events.avro_schema import avro_schema_for

pytestmark = pytest.mark.unit

_CRC64_EMPTY = 0xC15D213AA4D7A795


def _reference_crc64_avro(text: bytes) -> int:
    """CRC-64-AVRO exactly as given in the Avro specification (Schema Fingerprints)."""
    table = []
    for index in range(256):
        value = index
        for _ in range(8):
            value = (value >> 1) ^ (_CRC64_EMPTY & -(value & 1))
        table.append(value)
    fingerprint = _CRC64_EMPTY
    for byte in text:
        fingerprint = (fingerprint >> 8) ^ table[(fingerprint ^ byte) & 0xFF]
    return fingerprint


def test_every_payload_round_trips(sample_payload: DomainEvent) -> None:
    decoded = decode_avro(encode_avro(sample_payload))
    if isinstance(sample_payload, AccountOpenedV1):
        assert decoded == AccountOpened(**sample_payload.model_dump(), overdraft_limit=0)
    else:
        assert decoded == sample_payload


def test_the_message_is_marker_then_little_endian_crc64_fingerprint_then_body(sample_payload: DomainEvent) -> None:
    message = encode_avro(sample_payload)
    schema = avro_schema_for(type(sample_payload))
    canonical = to_parsing_canonical_form(schema).encode()
    assert message[:2] == b"\xc3\x01"
    assert int.from_bytes(message[2:10], "little") == _reference_crc64_avro(canonical)
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(schema), sample_payload.model_dump(mode="python"))
    assert message[10:] == body.getvalue()


def test_the_fingerprint_finds_the_writer_schema() -> None:
    schema = avro_schema_for(AccountOpenedV1)
    assert schema_for_fingerprint(schema_fingerprint(schema)) == schema
    entry = default_avro_catalog().writer_schema_of(
        encode_avro(
            AccountOpened.model_validate(
                {"account_id": "00000000-0000-4000-8000-000000000001", "holder_name": "A", "currency": "EUR"}
            )
        )
    )
    assert (entry.event_type, entry.schema_version) == ("account.opened", 2)


def test_fingerprints_ignore_documentation() -> None:
    schema = avro_schema_for(AccountOpened)
    undocumented = {**schema, "doc": "something else"}
    assert schema_fingerprint(undocumented) == schema_fingerprint(schema)


def test_every_registered_schema_has_its_own_fingerprint() -> None:
    entries = default_avro_catalog().entries()
    assert len({entry.fingerprint for entry in entries}) == len(entries)
    assert all(len(entry.fingerprint) == 8 for entry in entries)


def test_an_unknown_fingerprint_is_reported() -> None:
    with pytest.raises(UnknownSchemaFingerprintError):
        decode_avro(b"\xc3\x01" + b"\x00" * 8 + b"\x02")


@pytest.mark.parametrize("message", [b"", b"\xc3\x01\x00", b"\x00\x00" + b"\x00" * 8, b"{}"])
def test_bytes_that_are_not_single_object_encoded_are_refused(message: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_avro(message)


def test_truncated_or_padded_bodies_are_refused(sample_payloads: list[DomainEvent]) -> None:
    message = encode_avro(sample_payloads[1])
    with pytest.raises(MalformedMessageError):
        decode_avro(message[:-3])
    with pytest.raises(MalformedMessageError):
        decode_avro(message + b"\x00")
