"""Translate a request's ``context_filter`` into a Milvus boolean expression, safely.

Only declared fields, declared operators and values of the field's type are accepted; everything
else is a :class:`FilterError` naming what was wrong, which the API returns as a 400. Values are
rendered by this module (integers through ``int``, strings quoted and escaped), never spliced from
user text, so a filter can only ever select rows, not change the expression's shape.

Accepted forms, combined with AND::

    {"source": "docs/gpu.md"}                       # equality
    {"category": {"in": ["md", "txt"]}}             # membership
    {"year": {"gte": 2020, "lt": 2025}}             # range on integer fields
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ragfleet.domain import FILTERABLE_FIELDS
from ragfleet.errors import FilterError

_COMPARISONS: Final[Mapping[str, str]] = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
}
_RANGE_OPERATORS: Final = frozenset({"gt", "gte", "lt", "lte"})
MAX_IN_VALUES: Final = 100
MAX_STRING_LENGTH: Final = 512


def filter_json_schema() -> dict[str, Any]:
    """The JSON Schema of what :func:`build_expression` accepts, for the OpenAPI document."""
    properties: dict[str, Any] = {}
    for field, kind in FILTERABLE_FIELDS.items():
        value: dict[str, Any] = (
            {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
            if kind is int
            else {"type": "string", "maxLength": MAX_STRING_LENGTH, "pattern": "^[^\\x00-\\x1f]*$"}
        )
        operators = _COMPARISONS if kind is int else {"eq": "==", "ne": "!="}
        conditions: dict[str, Any] = {op: value for op in operators}
        conditions["in"] = {
            "type": "array",
            "items": value,
            "minItems": 1,
            "maxItems": MAX_IN_VALUES,
        }
        properties[field] = {
            "oneOf": [
                value,
                {
                    "type": "object",
                    "properties": conditions,
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ]
        }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def build_expression(context_filter: Mapping[str, Any] | None) -> str:
    """Return a Milvus expression for ``context_filter`` ('' when there is nothing to filter)."""
    if not context_filter:
        return ""
    clauses: list[str] = []
    for field, condition in sorted(context_filter.items()):
        kind = FILTERABLE_FIELDS.get(field)
        if kind is None:
            allowed = ", ".join(sorted(FILTERABLE_FIELDS))
            raise FilterError(
                f"context_filter: unknown field {field!r}; filterable fields: {allowed}"
            )
        if isinstance(condition, Mapping):
            if not condition:
                raise FilterError(f"context_filter.{field}: give at least one operator")
            clauses.extend(
                _clause(field, kind, op, value) for op, value in sorted(condition.items())
            )
        else:
            clauses.append(_clause(field, kind, "eq", condition))
    return " and ".join(clauses)


def _clause(field: str, kind: type, operator: str, value: Any) -> str:
    where = f"context_filter.{field}.{operator}"
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise FilterError(f"{where}: expected a non-empty list")
        if len(value) > MAX_IN_VALUES:
            raise FilterError(f"{where}: at most {MAX_IN_VALUES} values")
        rendered = ", ".join(_literal(where, kind, item) for item in value)
        return f"{field} in [{rendered}]"
    if operator not in _COMPARISONS:
        allowed = ", ".join([*sorted(_COMPARISONS), "in"])
        raise FilterError(f"{where}: unknown operator {operator!r}; operators: {allowed}")
    if operator in _RANGE_OPERATORS and kind is not int:
        raise FilterError(f"{where}: range operators apply to integer fields only")
    return f"{field} {_COMPARISONS[operator]} {_literal(where, kind, value)}"


def _literal(where: str, kind: type, value: Any) -> str:
    """Render one typed value as a Milvus literal, or refuse it."""
    if kind is int:
        # bool is an int subclass in Python; a JSON true is not a year.
        if isinstance(value, bool) or not isinstance(value, int):
            raise FilterError(f"{where}: expected an integer, got {_json_type(value)}")
        if not -(2**63) <= value < 2**63:
            raise FilterError(f"{where}: integer out of range")
        return str(int(value))
    if not isinstance(value, str):
        raise FilterError(f"{where}: expected a string, got {_json_type(value)}")
    if len(value) > MAX_STRING_LENGTH:
        raise FilterError(f"{where}: strings are limited to {MAX_STRING_LENGTH} characters")
    if any(ord(ch) < 32 for ch in value):
        raise FilterError(f"{where}: control characters are not allowed")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    if value is None:
        return "null"
    return names.get(type(value), "object")
