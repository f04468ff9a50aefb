"""docs/asyncapi.yaml describes exactly the topics, headers and published schemas the code produces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from eventledger_events import ALL_TOPICS
from eventledger_events import topics as topic_names
from eventledger_events.published import PUBLISHED_SCHEMAS_DIR, read_published_schemas

pytestmark = pytest.mark.unit

DOCS_DIR = Path(__file__).resolve().parents[3] / "docs"
DOCUMENT: dict[str, Any] = yaml.safe_load((DOCS_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
SCHEMA_FILE = re.compile(r"^\.\./events/schemas/(?P<type>[a-z_]+\.[a-z_]+)\.v(?P<version>\d+)\.avsc$")


def _resolve(reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = DOCUMENT
    for part in reference[2:].split("/"):
        node = node[part]
    return node


def _channel_messages(channel: dict[str, Any]) -> list[dict[str, Any]]:
    return [_resolve(message["$ref"]) for message in channel["messages"].values()]


def _schema_reference(message: dict[str, Any]) -> re.Match[str]:
    assert message["payload"]["schemaFormat"].startswith("application/vnd.apache.avro")
    match = SCHEMA_FILE.match(message["payload"]["schema"]["$ref"])
    assert match is not None, message["payload"]["schema"]["$ref"]
    return match


def test_it_is_an_asyncapi_3_document() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"


def test_one_channel_per_topic_with_its_kafka_binding() -> None:
    addresses = {channel["address"] for channel in DOCUMENT["channels"].values()}
    assert addresses == set(ALL_TOPICS)
    for channel in DOCUMENT["channels"].values():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]


def test_each_channel_carries_exactly_the_published_schemas_of_its_category() -> None:
    published = read_published_schemas()
    for category, topic in topic_names.TOPIC_BY_CATEGORY.items():
        channel = next(c for c in DOCUMENT["channels"].values() if c["address"] == topic)
        documented = set()
        for message in _channel_messages(channel):
            match = _schema_reference(message)
            assert message["name"] == match["type"]
            assert (DOCS_DIR / message["payload"]["schema"]["$ref"]).resolve().parent == PUBLISHED_SCHEMAS_DIR
            assert (DOCS_DIR / message["payload"]["schema"]["$ref"]).exists()
            documented.add((match["type"], int(match["version"])))
        assert documented == {key for key in published if key[0].startswith(f"{category}.")}


def test_operations_send_every_message_of_their_channel() -> None:
    for operation in DOCUMENT["operations"].values():
        channel = _resolve(operation["channel"]["$ref"])
        sent = {message["$ref"] for message in operation["messages"]}
        name = next(key for key, value in DOCUMENT["channels"].items() if value is channel)
        assert sent == {f"#/channels/{name}/messages/{key}" for key in channel["messages"]}
        for reference in sent:
            _resolve(reference)


def test_headers_are_the_ones_the_relay_writes() -> None:
    constants = {
        value for name, value in vars(topic_names).items() if name.startswith("HEADER_") and isinstance(value, str)
    }
    headers = DOCUMENT["components"]["schemas"]["EventHeaders"]
    assert set(headers["properties"]) == constants
    optional = {
        topic_names.HEADER_CAUSATION_ID,
        topic_names.HEADER_TRACEPARENT,
        topic_names.HEADER_TRACESTATE,
        topic_names.HEADER_RELAY_TERM,
        topic_names.HEADER_EVENT_HASH,  # absent from messages published before the verifiable log (ADR 0025)
    }
    assert set(headers["required"]) == constants - optional


def test_every_message_has_headers_and_a_stream_id_key() -> None:
    for message in DOCUMENT["components"]["messages"].values():
        traits = [_resolve(trait["$ref"]) for trait in message["traits"]]
        assert any(trait["headers"]["$ref"] == "#/components/schemas/EventHeaders" for trait in traits)
        key = _resolve(traits[0]["bindings"]["kafka"]["key"]["$ref"])
        category = message["name"].split(".")[0]
        assert key["pattern"].startswith(f"^{category}-")
