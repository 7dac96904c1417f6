"""context_filter → Milvus expression: only declared fields, operators and typed values."""

from __future__ import annotations

from typing import Any

import pytest

from ragfleet.errors import FilterError
from ragfleet.query.filters import build_expression


def test_no_filter_is_an_empty_expression() -> None:
    assert build_expression(None) == ""
    assert build_expression({}) == ""


def test_a_bare_value_means_equality() -> None:
    assert build_expression({"source": "docs/api.md"}) == 'source == "docs/api.md"'


def test_membership_and_ranges_are_combined_with_and() -> None:
    expression = build_expression(
        {"category": {"in": ["md", "txt"]}, "year": {"gte": 2020, "lt": 2025}}
    )
    assert expression == 'category in ["md", "txt"] and year >= 2020 and year < 2025'


def test_quotes_and_backslashes_in_values_are_escaped_not_interpreted() -> None:
    hostile = 'x" or doc_id != "'
    assert build_expression({"doc_id": hostile}) == r'doc_id == "x\" or doc_id != \""'
    assert build_expression({"source": "a\\b"}) == r'source == "a\\b"'


@pytest.mark.parametrize(
    ("context_filter", "message"),
    [
        ({"owner": "me"}, "unknown field 'owner'"),
        ({"year": {"between": [1, 2]}}, "unknown operator 'between'"),
        ({"year": "2024"}, "context_filter.year.eq: expected an integer, got string"),
        ({"year": True}, "expected an integer, got boolean"),
        ({"source": 3}, "expected a string, got integer"),
        ({"source": {"gt": "a"}}, "range operators apply to integer fields only"),
        ({"category": {"in": []}}, "expected a non-empty list"),
        ({"category": {"in": "md"}}, "expected a non-empty list"),
        ({"category": {}}, "give at least one operator"),
        ({"source": "line\nbreak"}, "control characters"),
        ({"category": {"in": ["x"] * 101}}, "at most 100 values"),
    ],
)
def test_bad_filters_are_refused_with_a_message_naming_the_problem(
    context_filter: dict[str, Any], message: str
) -> None:
    with pytest.raises(FilterError, match=message):
        build_expression(context_filter)
