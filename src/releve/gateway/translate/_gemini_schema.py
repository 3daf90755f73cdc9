"""JSON Schema (OpenAI tool parameters) to Gemini's `Schema`, a documented subset of OpenAPI 3.0.

Gemini rejects a request whose schema holds a field outside that subset, so
each keyword is either kept, stripped (annotations and `additionalProperties`,
which constrain nothing Gemini can enforce: it neither validates nor rejects
extra keys), or refused with Untranslatable naming it (e.g. `$ref`, which
Gemini cannot resolve, or `const`, a constraint it would silently lose).
Property *names* under `properties` are never mistaken for keywords.
"""

from __future__ import annotations

from typing import Any

from releve.errors import Untranslatable

__all__ = ["gemini_schema"]

# Fields of Gemini's Schema object (ai.google.dev/api/caching#Schema) that take plain values.
_KEPT = frozenset(
    [
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "propertyOrdering",
        "default",
        "minimum",
        "maximum",
    ]
)
_STRIPPED = frozenset(
    ["$schema", "$id", "$comment", "additionalProperties", "examples", "deprecated", "readOnly", "writeOnly"]
)


def gemini_schema(schema: object, where: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise Untranslatable(f"{where} must be a JSON Schema object.")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _STRIPPED:
            continue
        if key == "type" and isinstance(value, list):
            out.update(_type_list(value, where))
        elif key in _KEPT:
            out[key] = value
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: gemini_schema(sub, f"{where}.properties.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = gemini_schema(value, f"{where}.items")
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [gemini_schema(sub, f"{where}.anyOf[{index}]") for index, sub in enumerate(value)]
        else:
            raise Untranslatable(
                f"{where}.{key}: Gemini's function schemas have no {key!r} keyword, so the tool cannot be carried "
                "without losing a constraint. Inline or simplify the schema, or route to another target."
            )
    return out


def _type_list(types: list[object], where: str) -> dict[str, Any]:
    """`["string", "null"]` is `type: string, nullable: true` in Gemini's OpenAPI dialect."""
    kinds = [kind for kind in types if kind != "null"]
    if len(kinds) != 1:
        raise Untranslatable(f"{where}.type {types!r}: Gemini takes one type (optionally nullable); use anyOf.")
    out: dict[str, Any] = {"type": kinds[0]}
    if len(kinds) < len(types):
        out["nullable"] = True
    return out
