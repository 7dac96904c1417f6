"""Every kind of bad input gets a 4xx with a message a person can act on, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

JSON = {"content-type": "application/json"}

QUERY_CASES = [
    pytest.param({"query": ""}, 400, "query", id="empty query"),
    pytest.param({"query": "   \n\t"}, 400, "query must contain more than whitespace", id="blank"),
    pytest.param({"query": "x" * 2001}, 400, "query: Expected `str` of length <= 2000", id="long"),
    pytest.param(
        {"query": "hi", "max_results": 0}, 400, "max_results: Expected `int` >= 1", id="0"
    ),
    pytest.param(
        {"query": "hi", "max_results": 21}, 400, "max_results: Expected `int` <= 20", id="21"
    ),
    pytest.param(
        {"query": "hi", "max_results": "five"}, 400, "max_results: Expected `int`", id="str"
    ),
    pytest.param(
        {"query": "hi", "context_filter": {"owner": "x"}}, 400, "unknown field 'owner'", id="field"
    ),
    pytest.param(
        {"query": "hi", "context_filter": {"year": {"like": 1}}},
        400,
        "unknown operator 'like'",
        id="op",
    ),
    pytest.param(
        {"query": "hi", "context_filter": {"year": "2024"}}, 400, "expected an integer", id="type"
    ),
    pytest.param({"query": "hi", "context_filter": []}, 400, "context_filter", id="filter list"),
    pytest.param({"question": "hi"}, 400, "question", id="unknown key"),
    pytest.param({}, 400, "query", id="missing query"),
]


@pytest.mark.parametrize(("body", "status", "message"), QUERY_CASES)
async def test_bad_query_bodies_are_rejected(
    corpus_client: AsyncTestClient[Any], body: dict[str, Any], status: int, message: str
) -> None:
    response = await corpus_client.post("/query", json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert message in payload["detail"]
    assert payload["request_id"] == response.headers["x-request-id"]


async def test_malformed_json_is_a_400_that_says_so(corpus_client: AsyncTestClient[Any]) -> None:
    response = await corpus_client.post("/query", content=b'{"query": ', headers=JSON)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


async def test_wrong_content_type_is_a_415(corpus_client: AsyncTestClient[Any]) -> None:
    response = await corpus_client.post(
        "/query", content=b"query=hi", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


async def test_an_oversized_body_is_a_413(corpus_client: AsyncTestClient[Any]) -> None:
    response = await corpus_client.post(
        "/documents", content=b'{"documents": ["' + b"x" * (11 * 1024 * 1024) + b'"]}', headers=JSON
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        pytest.param([], "documents", id="empty batch"),
        pytest.param(
            [{"id": "a", "text": "  "}], "text must contain more than whitespace", id="blank"
        ),
        pytest.param([{"id": "a\nb", "text": "t"}], "id", id="control char id"),
        pytest.param(
            [{"id": "a", "text": "t", "metadata": {"year": "2020"}}],
            "metadata.year",
            id="year type",
        ),
        pytest.param(
            [{"id": "a", "text": "t"}, {"id": "a", "text": "u"}], "appears twice", id="duplicate"
        ),
        pytest.param(
            [{"id": "a", "text": "t"}, {"id": "b", "text": "t", "metadata": {"notes": "x" * 9000}}],
            "document 'b': metadata is 9012 bytes as JSON, over the limit of 8192 bytes",
            id="metadata size",
        ),
        pytest.param(
            [{"id": "a", "text": "t", "metadata": {"t": "\u00e9" * 4100}}],
            "metadata is 8208 bytes as JSON",  # UTF-8 bytes, not characters
            id="metadata bytes",
        ),
        pytest.param(
            # Milvus's JSON field refuses it: a 400 here, not a 503 from the store.
            [{"id": "a", "text": "t", "metadata": {"n": [1, {"big": 2**64}]}}],
            "metadata holds an integer beyond 64 bits",
            id="metadata integer",
        ),
    ],
)
async def test_bad_documents_are_rejected_before_anything_is_stored(
    corpus_client: AsyncTestClient[Any], documents: list[dict[str, Any]], message: str
) -> None:
    response = await corpus_client.post("/documents", json={"documents": documents})
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


async def test_a_client_request_id_is_echoed_and_a_hostile_one_replaced(
    corpus_client: AsyncTestClient[Any],
) -> None:
    echoed = await corpus_client.get("/healthz", headers={"x-request-id": "trace-42.a"})
    assert echoed.headers["x-request-id"] == "trace-42.a"
    replaced = await corpus_client.get("/healthz", headers={"x-request-id": "bad id <script>"})
    assert replaced.headers["x-request-id"] != "bad id <script>"
    assert len(replaced.headers["x-request-id"]) == 32
