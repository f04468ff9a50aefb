"""The reference Avro implementation (the Apache ``avro`` package) reads what we publish (issue 15 item 2).

We encode with fastavro (it is faster; ADR 0006). These tests prove that a team on the reference implementation
needs nothing of ours: every published schema parses with it, and every message value decodes with it to the same
record. One difference is pinned down here: the reference implementation's Parsing Canonical Form keeps a primitive
that carries a logical type as ``{"type": "string"}`` where the specification's [PRIMITIVES] rule (and fastavro, and
Java) write ``"string"``. Its ``fingerprint()`` therefore differs from the one in our single-object header for every
schema with a uuid or timestamp field; docs/analysts.md says how to look a schema up instead. The relay's own
messages are decoded the same way in tests/integration/test_avro_reference_relay.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from fastavro.schema import to_parsing_canonical_form
from tests.support.avro_reference import (
    PUBLISHED,
    as_reference_reads,
    current_payloads,
    decode_with_reference,
    reference_schemas,
)

import eventledger_events as ev
from eventledger_events.avro_codec import default_avro_catalog

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _without_logical_primitives(node: Any) -> Any:
    """The reference canonical form with the specification's [PRIMITIVES] rule applied to what it left out."""
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in PRIMITIVES:
            return node["type"]
        return {key: _without_logical_primitives(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_logical_primitives(item) for item in node]
    return node


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_every_published_schema_parses_with_the_reference_implementation(path: Path) -> None:
    schema = avro.schema.parse(path.read_text())
    assert isinstance(schema, avro.schema.RecordSchema)
    assert schema.fullname.startswith("eventledger.")


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_its_canonical_form_differs_from_the_specifications_only_by_logical_primitives(path: Path) -> None:
    text = path.read_text()
    reference = json.loads(avro.schema.parse(text).canonical_form)
    specification = json.loads(to_parsing_canonical_form(json.loads(text)))
    assert _without_logical_primitives(reference) == specification


def test_the_published_schemas_are_the_ones_messages_are_written_with() -> None:
    written = {default_avro_catalog().encode(payload)[2:10] for payload in current_payloads()}
    assert written <= set(reference_schemas())


@pytest.mark.parametrize("payload", current_payloads(), ids=lambda p: p.full_name())
def test_every_message_value_decodes_with_the_reference_implementation_to_the_same_record(
    payload: ev.DomainEvent,
) -> None:
    value = default_avro_catalog().encode(payload)
    decoded = decode_with_reference(value, reference_schemas())
    assert ev.decode_avro(value) == payload
    assert decoded == as_reference_reads(payload)
