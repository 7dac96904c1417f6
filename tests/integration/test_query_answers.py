"""Questions over the sample corpus come back with answers and the right sources."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

QUESTIONS = [
    (
        "Which environment variable points ragfleet at a Milvus server instead of Milvus Lite?",
        "docs/configuration.md",
    ),
    (
        "What status code does a request get when the LLM server does not answer in time?",
        "docs/api.md",
    ),
    (
        "How is the corpus version shared between workers and why does the cache key on it?",
        "docs/architecture.md",
    ),
]


@pytest.mark.parametrize(("question", "expected_source"), QUESTIONS)
async def test_question_is_answered_from_the_document_that_covers_it(
    corpus_client: AsyncTestClient[Any], question: str, expected_source: str
) -> None:
    response = await corpus_client.post("/query", json={"query": question, "max_results": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"].strip()
    assert expected_source in body["sources"]
    assert body["citations"][0]["number"] == 1


async def test_response_carries_the_chapter_contract_and_stage_timings(
    corpus_client: AsyncTestClient[Any],
) -> None:
    response = await corpus_client.post("/query", json={"query": "How do I run the tests?"})
    body = response.json()
    assert {"answer", "sources", "processing_time", "timestamp"} <= body.keys()
    assert isinstance(body["sources"], list)
    assert len(body["citations"]) <= 5
    timings = body["timings"]
    assert timings["embed"] > 0
    assert timings["search"] > 0
    assert timings["generate"] > 0
    assert body["processing_time"] >= timings["generate"]
    assert body["model"] == "smollm2-135m-instruct"
    assert response.headers["x-request-id"] == body["request_id"]


async def test_context_filter_restricts_the_sources(corpus_client: AsyncTestClient[Any]) -> None:
    response = await corpus_client.post(
        "/query",
        json={"query": "What does ragfleet do?", "context_filter": {"source": "docs/api.md"}},
    )
    assert response.status_code == 200
    assert response.json()["sources"] == ["docs/api.md"]


async def test_a_filter_that_matches_nothing_answers_without_calling_the_llm(
    corpus_client: AsyncTestClient[Any],
) -> None:
    response = await corpus_client.post(
        "/query", json={"query": "Anything?", "context_filter": {"category": "pdf"}}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["sources"] == []
    assert body["timings"]["generate"] == 0
    assert "no passages" in body["answer"]


async def test_openapi_documents_the_query_contract(corpus_client: AsyncTestClient[Any]) -> None:
    schema = (await corpus_client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/query"]["post"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("/QueryRequest")
    components = schema["components"]["schemas"]
    assert set(components["QueryRequest"]["properties"]) == {
        "query",
        "context_filter",
        "max_results",
    }
    assert {"answer", "sources", "processing_time", "timestamp"} <= set(
        components["QueryResponse"]["required"]
    )
    assert {"/documents", "/documents/{doc_id}", "/healthz", "/readyz"} <= set(schema["paths"])


async def test_health_and_readiness_report_ok(corpus_client: AsyncTestClient[Any]) -> None:
    assert (await corpus_client.get("/healthz")).json() == {"status": "ok"}
    ready = await corpus_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "cache": {"status": "ok", "detail": ""},
        "llm": {"status": "ok", "detail": ""},
        "vector_store": {"status": "ok", "detail": ""},
    }
