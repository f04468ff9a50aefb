"""BACKWARD compatibility of Avro schemas: can a reader holding the NEW schema read data written with the OLD?

Two independent checks, both must pass:
- structural: every field the reader has and the writer lacks carries a default; every shared field's type is
  the same or a legal Avro promotion (no narrowing); enums keep every writer symbol; record names match or the
  reader lists the writer's name as an alias;
- resolution: sample records written with the old schema are read back with the new one by fastavro's schema
  resolution (covering each union branch and enum symbol extreme).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from eventledger_events.avro_schema import AvroSchema

_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"int", "long", "float", "double"}),
    "long": frozenset({"long", "float", "double"}),
    "float": frozenset({"float", "double"}),
    "string": frozenset({"string", "bytes"}),
    "bytes": frozenset({"bytes", "string"}),
}
"""Writer primitive type → reader types that may read it (Avro specification, schema resolution)."""

_COMPLEX_KINDS = frozenset({"record", "enum", "fixed", "array", "map"})

_SAMPLE_LOGICAL: dict[str, Any] = {
    "uuid": "6f1f5bbd-3a3f-4d0c-9a57-0b9d4b7e4a10",
    "timestamp-micros": 1_700_000_000_000_000,
    "timestamp-millis": 1_700_000_000_000,
}

_SAMPLE_PRIMITIVES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": 7,
    "long": 7,
    "float": 1.5,
    "double": 1.5,
    "bytes": b"x",
    "string": "x",
}


_Names = dict[str, dict[str, Any]]
"""Named types (records, enums, fixed) of one schema, by full name."""


def backward_compatibility_problems(reader: AvroSchema, writer: AvroSchema) -> list[str]:
    """Every reason why ``reader`` (new) cannot read data written with ``writer`` (old); empty if it can."""
    problems = _structural_problems(reader, writer)
    problems.extend(_resolution_problems(reader, writer))
    return problems


def _structural_problems(reader: AvroSchema, writer: AvroSchema) -> list[str]:
    checker = _StructuralChecker(_named_types(reader), _named_types(writer))
    checker.check(reader, writer, path=str(writer.get("name", "")))
    return checker.problems


def _resolution_problems(reader: AvroSchema, writer: AvroSchema) -> list[str]:
    try:
        parsed_writer = parse_schema(writer)
        parsed_reader = parse_schema(reader)
    except Exception as error:
        return [f"schema does not parse: {error}"]
    problems: list[str] = []
    for choice in (0, -1):
        record = _sample(writer, _named_types(writer), choice)
        buffer = io.BytesIO()
        try:
            schemaless_writer(buffer, parsed_writer, record)
            buffer.seek(0)
            schemaless_reader(buffer, parsed_writer, parsed_reader)
        except Exception as error:
            problem = f"fastavro cannot read a writer record with the reader schema: {_shorten(error)}"
            if problem not in problems:
                problems.append(problem)
    return problems


def _shorten(error: Exception, limit: int = 200) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def _full_name(schema: dict[str, Any], enclosing_namespace: str = "") -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    namespace = schema.get("namespace", enclosing_namespace)
    return f"{namespace}.{name}" if namespace else name


def _named_types(schema: Any, namespace: str = "") -> _Names:
    found: _Names = {}
    for node, node_namespace in _walk(schema, namespace):
        found[_full_name(node, node_namespace)] = node
    return found


def _walk(schema: Any, namespace: str) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk(branch, namespace)
        return
    if not isinstance(schema, dict):
        return
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        yield schema, namespace
        own_namespace = _full_name(schema, namespace).rpartition(".")[0]
        for field in schema.get("fields", []):
            yield from _walk(field["type"], own_namespace)
    elif kind == "array":
        yield from _walk(schema["items"], namespace)
    elif kind == "map":
        yield from _walk(schema["values"], namespace)
    else:
        yield from _walk(kind, namespace)


class _StructuralChecker:
    """Walks reader and writer schemas side by side and records every incompatibility found."""

    def __init__(self, reader_names: _Names, writer_names: _Names) -> None:
        self._reader_names = reader_names
        self._writer_names = writer_names
        self.problems: list[str] = []

    def readable(self, reader: Any, writer: Any) -> bool:
        """Whether reader can read writer, without recording problems."""
        probe = _StructuralChecker(self._reader_names, self._writer_names)
        probe.check(reader, writer, path="")
        return not probe.problems

    def check(self, reader: Any, writer: Any, path: str) -> None:
        """Record every reason why ``reader`` cannot read data of ``writer`` (``path`` names the place)."""
        reader = _resolve(reader, self._reader_names)
        writer = _resolve(writer, self._writer_names)
        reader_kind, writer_kind = _type_name(reader), _type_name(writer)
        if writer_kind == "union":
            for branch in writer:
                self.check(reader, branch, f"{path}|{_type_name(branch)}")
        elif reader_kind == "union":
            if not any(self.readable(branch, writer) for branch in reader):
                self.problems.append(f"{path}: no branch of the reader union reads writer type {writer_kind}")
        elif writer_kind in _COMPLEX_KINDS and reader_kind == writer_kind:
            self._check_complex(reader, writer, writer_kind, path)
        elif reader_kind not in _PROMOTIONS.get(writer_kind, frozenset({writer_kind})):
            self.problems.append(f"{path}: type changed from {writer_kind} to {reader_kind}")

    def _check_complex(self, reader: Any, writer: Any, kind: str, path: str) -> None:
        if kind == "record":
            self._check_record(reader, writer, path)
        elif kind == "enum":
            self._check_names(reader, writer, path)
            missing = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
            if missing and "default" not in reader:
                self.problems.append(f"{path}: enum symbols removed without a reader default: {missing}")
        elif kind == "fixed":
            self._check_names(reader, writer, path)
            if reader["size"] != writer["size"]:
                self.problems.append(f"{path}: fixed size changed")
        elif kind == "array":
            self.check(reader["items"], writer["items"], f"{path}[]")
        else:
            self.check(reader["values"], writer["values"], f"{path}{{}}")

    def _check_names(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        writer_name = _full_name(writer)
        reader_names = {_full_name(reader), *reader.get("aliases", [])}
        short_names = {name.rpartition(".")[2] for name in reader_names}
        if writer_name not in reader_names and writer_name.rpartition(".")[2] not in short_names:
            reader_name = _full_name(reader)
            self.problems.append(f"{path}: reader name {reader_name} neither is nor aliases {writer_name}")

    def _check_record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        self._check_names(reader, writer, path)
        writer_fields = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            candidates = [field["name"], *field.get("aliases", [])]
            written = next((writer_fields[name] for name in candidates if name in writer_fields), None)
            field_path = f"{path}.{field['name']}"
            if written is None:
                if "default" not in field:
                    self.problems.append(f"{field_path}: new field without a default")
                continue
            self.check(field["type"], written["type"], field_path)


def _resolve(schema: Any, names: _Names) -> Any:
    """A named reference → its definition; a primitive written as a dict (logical types) → its name."""
    if isinstance(schema, str):
        if schema in names:
            return names[schema]
        return next((node for full, node in names.items() if full.rpartition(".")[2] == schema), schema)
    if isinstance(schema, dict) and schema["type"] not in _COMPLEX_KINDS:
        return _resolve(schema["type"], names)
    return schema


def _sample(schema: Any, names: _Names, choice: int) -> Any:
    """A value valid for ``schema``: ``choice`` 0 picks first union branches/symbols, -1 the last ones."""
    if isinstance(schema, list):
        return _sample(schema[choice], names, choice)
    if isinstance(schema, dict) and schema.get("logicalType") in _SAMPLE_LOGICAL:
        return _SAMPLE_LOGICAL[schema["logicalType"]]
    resolved = _resolve(schema, names)
    if isinstance(resolved, str):
        return _SAMPLE_PRIMITIVES[resolved]
    kind = resolved["type"]
    samples: dict[str, Any] = {
        "record": lambda: {field["name"]: _sample(field["type"], names, choice) for field in resolved["fields"]},
        "enum": lambda: resolved["symbols"][choice],
        "fixed": lambda: b"\x00" * int(resolved["size"]),
        "array": lambda: [_sample(resolved["items"], names, choice)],
        "map": lambda: {"k": _sample(resolved["values"], names, choice)},
    }
    return samples[kind]()
