"""The published Avro schemas: ``events/schemas/<event_type>.v<N>.avsc``, committed with the code.

A published file is a promise to consumers: once released, a version's schema never changes (its fingerprint
identifies it in every Kafka message). A change of payload means a new ``SCHEMA_VERSION`` and a new file; old
files stay.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastavro.schema import to_parsing_canonical_form

from eventledger_events.avro_schema import AvroSchema, avro_schema_for
from eventledger_events.registry import EventRegistry

PUBLISHED_SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""``events/schemas`` in a source checkout (or an editable install)."""

_FILE_NAME = re.compile(r"^(?P<event_type>[a-z_]+\.[a-z_]+)\.v(?P<version>[1-9][0-9]*)\.avsc$")


class SchemaAlreadyPublishedError(Exception):
    """A published version would change meaning; publish a new ``SCHEMA_VERSION`` instead."""


def schema_file_name(event_type: str, version: int) -> str:
    """``"account.opened", 2`` → ``"account.opened.v2.avsc"``."""
    return f"{event_type}.v{version}.avsc"


def render_schema(schema: AvroSchema) -> str:
    """The exact text of a published schema file (stable key order, two-space indent, final newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def read_published_schemas(directory: Path = PUBLISHED_SCHEMAS_DIR) -> dict[tuple[str, int], AvroSchema]:
    """Every published schema in ``directory``, by (event type, version)."""
    schemas: dict[tuple[str, int], AvroSchema] = {}
    for path in sorted(directory.glob("*.avsc")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"unexpected schema file name: {path.name}")
        key = (match["event_type"], int(match["version"]))
        schemas[key] = json.loads(path.read_text(encoding="utf-8"))
    return schemas


def publish_schemas(
    registry: EventRegistry,
    directory: Path = PUBLISHED_SCHEMAS_DIR,
    *,
    allow_redefinition: bool = False,
) -> list[Path]:
    """Write the schema of every registered model (current and legacy) that is missing or outdated.

    An existing file is rewritten only when its Parsing Canonical Form is unchanged (documentation edits),
    unless ``allow_redefinition`` is set (for a version never released). Answers the paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for model in registry.models():
        schema = avro_schema_for(model)
        path = directory / schema_file_name(model.EVENT_TYPE, model.SCHEMA_VERSION)
        text = render_schema(schema)
        if path.exists():
            existing = path.read_text(encoding="utf-8")
            if existing == text:
                continue
            old_form = to_parsing_canonical_form(json.loads(existing))
            same_contract = old_form == to_parsing_canonical_form(schema)
            if not same_contract and not allow_redefinition:
                raise SchemaAlreadyPublishedError(
                    f"{path.name} is published with a different schema; bump {model.__name__}.SCHEMA_VERSION"
                )
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
