"""Published Avro schemas (events/schemas): they match the code, old ones stay, and changes stay BACKWARD
compatible (a reader with the new schema reads data written with the old one).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from eventledger_events import EVENT_REGISTRY, DomainEvent, current_version
from eventledger_events.avro_schema import AvroSchema, avro_schema_for
from eventledger_events.compatibility import backward_compatibility_problems
from eventledger_events.publish_schemas import main as publish_main
from eventledger_events.published import (
    PUBLISHED_SCHEMAS_DIR,
    SchemaAlreadyPublishedError,
    publish_schemas,
    read_published_schemas,
    render_schema,
    schema_file_name,
)

pytestmark = pytest.mark.unit

PUBLISHED = read_published_schemas()


def _consecutive_published_pairs() -> list[tuple[str, int]]:
    return sorted((event_type, version) for event_type, version in PUBLISHED if (event_type, version - 1) in PUBLISHED)


@pytest.mark.parametrize("model", EVENT_REGISTRY.models(), ids=lambda model: model.full_name())
def test_the_published_file_is_exactly_the_generated_schema(model: type[DomainEvent]) -> None:
    path = PUBLISHED_SCHEMAS_DIR / schema_file_name(model.EVENT_TYPE, model.SCHEMA_VERSION)
    assert path.exists(), f"{path.name} missing: run python -m eventledger_events.publish_schemas"
    assert path.read_text(encoding="utf-8") == render_schema(avro_schema_for(model)), (
        f"{path.name} differs from {model.__name__}: a published version never changes; add a new version"
    )


def test_every_published_schema_is_still_readable_by_a_registered_model() -> None:
    registered = {(model.EVENT_TYPE, model.SCHEMA_VERSION) for model in EVENT_REGISTRY.models()}
    assert set(PUBLISHED) == registered


def test_the_legacy_account_opened_v1_schema_stays_published() -> None:
    assert ("account.opened", 1) in PUBLISHED


def _types_with_an_older_published_version() -> list[str]:
    return [
        event_type
        for event_type in EVENT_REGISTRY.event_types()
        if any(name == event_type and version < current_version(event_type) for name, version in PUBLISHED)
    ]


@pytest.mark.parametrize("event_type", _types_with_an_older_published_version())
def test_the_current_schema_is_backward_compatible_with_the_previous_published_version(event_type: str) -> None:
    current = EVENT_REGISTRY.current_model(event_type)
    previous_version = max(
        version for name, version in PUBLISHED if name == event_type and version < current.SCHEMA_VERSION
    )
    previous = PUBLISHED[(event_type, previous_version)]
    assert backward_compatibility_problems(avro_schema_for(current), previous) == []


@pytest.mark.parametrize(("event_type", "version"), _consecutive_published_pairs())
def test_each_published_version_is_backward_compatible_with_the_one_before(event_type: str, version: int) -> None:
    reader, writer = PUBLISHED[(event_type, version)], PUBLISHED[(event_type, version - 1)]
    assert backward_compatibility_problems(reader, writer) == []


def test_there_is_at_least_one_real_version_change_to_check() -> None:
    assert ("account.opened", 2) in _consecutive_published_pairs()
    assert "account.opened" in _types_with_an_older_published_version()


# -------------------------------------------------------------------- the compatibility check can fail


def _base() -> AvroSchema:
    return copy.deepcopy(PUBLISHED[("transfer.posted", 1)])


def _with_field(schema: AvroSchema, field: dict[str, Any]) -> AvroSchema:
    schema["fields"].append(field)
    return schema


def _set_type(schema: AvroSchema, name: str, avro_type: object) -> AvroSchema:
    next(field for field in schema["fields"] if field["name"] == name)["type"] = avro_type
    return schema


def test_a_new_field_without_default_breaks_compatibility() -> None:
    reader = _with_field(_base(), {"name": "fee", "type": "long"})
    problems = backward_compatibility_problems(reader, _base())
    assert any("fee: new field without a default" in problem for problem in problems)
    assert any("fastavro" in problem for problem in problems)


def test_a_new_field_with_a_default_is_compatible() -> None:
    reader = _with_field(_base(), {"name": "fee", "type": "long", "default": 0})
    assert backward_compatibility_problems(reader, _base()) == []
    reader = _with_field(_base(), {"name": "note", "type": ["null", "string"], "default": None})
    assert backward_compatibility_problems(reader, _base()) == []


def test_a_removed_field_is_compatible_for_readers() -> None:
    reader = _base()
    reader["fields"] = [field for field in reader["fields"] if field["name"] != "description"]
    assert backward_compatibility_problems(reader, _base()) == []


def test_narrowing_a_type_breaks_compatibility() -> None:
    reader = _set_type(_base(), "amount", "int")
    assert any("from long to int" in problem for problem in backward_compatibility_problems(reader, _base()))
    reader = _set_type(_base(), "currency", "long")
    assert backward_compatibility_problems(reader, _base()) != []


def test_widening_a_type_is_compatible() -> None:
    writer = _set_type(_base(), "amount", "int")
    assert backward_compatibility_problems(_base(), writer) == []
    reader = _set_type(_base(), "description", ["null", "string"])
    assert backward_compatibility_problems(reader, _base()) == []


def test_making_an_optional_field_required_breaks_compatibility() -> None:
    writer = _set_type(_base(), "description", ["null", "string"])
    assert backward_compatibility_problems(_base(), writer) != []


def test_removing_an_enum_symbol_breaks_compatibility() -> None:
    reader = _base()
    kind = next(field for field in reader["fields"] if field["name"] == "kind")
    kind["type"]["symbols"] = ["transfer", "deposit"]
    problems = backward_compatibility_problems(reader, _base())
    assert any("enum symbols removed" in problem for problem in problems)


def test_adding_an_enum_symbol_is_compatible_for_readers() -> None:
    reader = _base()
    kind = next(field for field in reader["fields"] if field["name"] == "kind")
    kind["type"]["symbols"] = [*kind["type"]["symbols"], "fee"]
    assert backward_compatibility_problems(reader, _base()) == []


def test_renaming_the_record_without_an_alias_breaks_compatibility() -> None:
    reader = {**_base(), "name": "TransferPostedV2"}
    assert backward_compatibility_problems(reader, _base()) != []
    aliased = {**reader, "aliases": ["eventledger.transfer.TransferPostedV1"]}
    assert backward_compatibility_problems(aliased, _base()) == []


# -------------------------------------------------------------------- publishing


def test_publishing_writes_every_missing_schema(tmp_path: Path) -> None:
    written = publish_schemas(EVENT_REGISTRY, tmp_path)
    assert {path.name for path in written} == {path.name for path in PUBLISHED_SCHEMAS_DIR.glob("*.avsc")}
    assert publish_schemas(EVENT_REGISTRY, tmp_path) == []


def test_publishing_refuses_to_change_a_published_version(tmp_path: Path) -> None:
    publish_schemas(EVENT_REGISTRY, tmp_path)
    path = tmp_path / "account.frozen.v1.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"].append({"name": "reason", "type": "string", "default": ""})
    path.write_text(render_schema(schema), encoding="utf-8")
    with pytest.raises(SchemaAlreadyPublishedError, match=r"account\.frozen\.v1"):
        publish_schemas(EVENT_REGISTRY, tmp_path)
    assert publish_main(["--directory", str(tmp_path)]) == 1
    assert publish_main(["--directory", str(tmp_path), "--allow-redefinition"]) == 0
    assert path.read_text(encoding="utf-8") == render_schema(
        avro_schema_for(EVENT_REGISTRY.model_for("account.frozen", 1))
    )


def test_publishing_may_rewrite_documentation_only_changes(tmp_path: Path) -> None:
    publish_schemas(EVENT_REGISTRY, tmp_path)
    path = tmp_path / "account.frozen.v1.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["doc"] = "old wording"
    path.write_text(render_schema(schema), encoding="utf-8")
    assert publish_schemas(EVENT_REGISTRY, tmp_path) == [path]
