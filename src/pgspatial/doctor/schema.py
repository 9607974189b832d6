"""The versioned JSON document of ``pgspatial doctor --format json``, and a validator for it.

:data:`JSON_SCHEMA` is a JSON Schema (draft 2020-12 vocabulary) of the document; docs/doctor.md
prints it. ``schema_version`` changes only when a field is removed, renamed or changes
meaning; new optional fields keep the version. :func:`validate_document` checks a document
against the schema with the subset of JSON Schema it uses, so no extra dependency is needed
(a full validator such as ``jsonschema`` gives the same answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["JSON_SCHEMA", "SCHEMA_VERSION", "validate_document"]

SCHEMA_VERSION = 1

_SEVERITY = {"enum": ["info", "warn", "error"]}
_SCALAR = {"type": ["string", "integer", "number", "boolean", "null"]}
_NULLABLE_STRING = {"type": ["string", "null"]}

_FINDING: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["severity", "message", "table", "column", "index", "details", "fix", "safe"],
    "properties": {
        "severity": _SEVERITY,
        "message": {"type": "string", "minLength": 1},
        "table": _NULLABLE_STRING,
        "column": _NULLABLE_STRING,
        "index": _NULLABLE_STRING,
        "details": {"type": "object", "additionalProperties": _SCALAR},
        "fix": _NULLABLE_STRING,
        "safe": {"type": "boolean"},
    },
}

_CHECK: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "family",
        "title",
        "severity",
        "status",
        "level",
        "summary",
        "why",
        "skip_reason",
        "notes",
        "duration_ms",
        "findings",
    ],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z_]+\.[a-z0-9_]+$"},
        "family": {"type": "string"},
        "title": {"type": "string"},
        "severity": _SEVERITY,
        "status": {"enum": ["ok", "found", "skipped"]},
        "level": {"enum": ["info", "warn", "error", None]},
        "summary": {"type": "string"},
        "why": {"type": "string"},
        "skip_reason": _NULLABLE_STRING,
        "notes": {"type": "array", "items": {"type": "string"}},
        "duration_ms": {"type": "number", "minimum": 0},
        "findings": {"type": "array", "items": _FINDING},
    },
}

_APPLIED_FIX: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["check", "statement", "ok", "message", "duration_ms"],
    "properties": {
        "check": {"type": "string"},
        "statement": {"type": "string"},
        "ok": {"type": "boolean"},
        "message": {"type": "string"},
        "duration_ms": {"type": "number", "minimum": 0},
    },
}

#: The JSON Schema of the doctor's JSON output, version :data:`SCHEMA_VERSION`.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pgspatial doctor report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "tool",
        "pgspatial_version",
        "generated_at",
        "database",
        "thresholds",
        "summary",
        "checks",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "tool": {"const": "pgspatial doctor"},
        "pgspatial_version": {"type": "string"},
        "generated_at": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
        "database": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "user", "server_version", "postgis_version"],
            "properties": {
                "name": {"type": "string"},
                "user": {"type": "string"},
                "server_version": {"type": "string"},
                "postgis_version": _NULLABLE_STRING,
            },
        },
        "thresholds": {"type": "object", "additionalProperties": {"type": "number"}},
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "required": ["checks", "ok", "found", "skipped", "by_level", "worst"],
            "properties": {
                "checks": {"type": "integer", "minimum": 0},
                "ok": {"type": "integer", "minimum": 0},
                "found": {"type": "integer", "minimum": 0},
                "skipped": {"type": "integer", "minimum": 0},
                "by_level": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["info", "warn", "error"],
                    "properties": {
                        level: {"type": "integer", "minimum": 0}
                        for level in ("info", "warn", "error")
                    },
                },
                "worst": {"enum": ["info", "warn", "error", None]},
            },
        },
        "checks": {"type": "array", "items": _CHECK},
        "applied_fixes": {"type": "array", "items": _APPLIED_FIX},
    },
}

_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in {"integer", "number"}:
        return False
    return isinstance(value, _TYPES[name])


def _validate(value: Any, schema: Mapping[str, Any], path: str, errors: list[str]) -> None:  # noqa: PLR0912
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            errors.append(f"{path}: {value!r} is not of type {' or '.join(names)}")
            return
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below {schema['minimum']}")
    if isinstance(value, list) and "items" in schema:
        for position, item in enumerate(value):
            _validate(item, schema["items"], f"{path}[{position}]", errors)
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(f"{path}: missing required property {name!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                _validate(item, properties[name], f"{path}.{name}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, Mapping):
                _validate(item, extra, f"{path}.{name}", errors)


def validate_document(document: Any, schema: Mapping[str, Any] = JSON_SCHEMA) -> list[str]:
    """The ways ``document`` breaks ``schema`` (``$.checks[3].status: ...``); empty if none."""
    errors: list[str] = []
    _validate(document, schema, "$", errors)
    return errors
