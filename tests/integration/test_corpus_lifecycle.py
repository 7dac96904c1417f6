"""Ingest, re-ingest, delete and restart: the corpus is durable and every change is visible."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from ragfleet.app import create_app
from tests.integration.conftest import SettingsFactory

GPU_DOC = {
    "id": "notes/gpus.md",
    "text": "The large profile runs several NVIDIA A100 GPUs with tensor parallelism.",
    "metadata": {"category": "hardware", "year": 2025},
}
CACHE_DOC = {
    "id": "notes/cache.md",
    "text": "Answers are cached in Redis; the key includes the corpus version.",
    "metadata": {"category": "service", "year": 2026},
}


async def _ingest(client: AsyncTestClient[Any], *documents: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/documents", json={"documents": list(documents)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _sources(client: AsyncTestClient[Any], question: str, **extra: Any) -> list[str]:
    response = await client.post("/query", json={"query": question, "max_results": 2, **extra})
    assert response.status_code == 200, response.text
    sources: list[str] = response.json()["sources"]
    return sources


async def test_the_corpus_survives_a_restart(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    async with AsyncTestClient(create_app(settings)) as client:
        version = (await _ingest(client, GPU_DOC))["corpus_version"]
    async with AsyncTestClient(create_app(settings)) as client:
        assert await _sources(client, "Which GPUs does the large profile use?") == ["notes/gpus.md"]
        unchanged = await _ingest(client, GPU_DOC)
    assert unchanged["corpus_version"] == version


async def test_reingesting_an_unchanged_document_changes_nothing(
    make_settings: SettingsFactory,
) -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        first = await _ingest(client, GPU_DOC, CACHE_DOC)
        again = await _ingest(client, GPU_DOC, CACHE_DOC)
    assert (first["ingested"], first["unchanged"]) == (2, 0)
    assert (again["ingested"], again["unchanged"], again["chunks"]) == (0, 2, 0)
    assert again["corpus_version"] == first["corpus_version"]


async def test_reingesting_a_changed_document_replaces_all_its_chunks(
    make_settings: SettingsFactory,
) -> None:
    long_text = "\n\n".join(
        f"Section {i}: the gateway uses HAProxy with leastconn." for i in range(60)
    )
    async with AsyncTestClient(
        create_app(make_settings(chunk_size=200, chunk_overlap=20))
    ) as client:
        first = await _ingest(client, {"id": "gw", "text": long_text})
        second = await _ingest(client, {"id": "gw", "text": "The gateway is HAProxy."})
        response = await client.post(
            "/query",
            json={"query": "gateway", "max_results": 20, "context_filter": {"doc_id": "gw"}},
        )
    assert first["chunks"] > 10
    assert second["chunks"] == 1
    assert second["corpus_version"] > first["corpus_version"]
    assert [c["chunk"] for c in response.json()["citations"]] == [0]


async def test_a_deleted_document_no_longer_answers(make_settings: SettingsFactory) -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        ingested = await _ingest(client, GPU_DOC, CACHE_DOC)
        assert "notes/gpus.md" in await _sources(client, "Which GPUs does the large profile use?")

        deleted = await client.delete("/documents/notes/gpus.md")
        assert deleted.status_code == 200
        assert deleted.json()["deleted"] == "notes/gpus.md"
        assert deleted.json()["corpus_version"] > ingested["corpus_version"]

        assert await _sources(client, "Which GPUs does the large profile use?") == [
            "notes/cache.md"
        ]
        again = await client.delete("/documents/notes/gpus.md")
    assert again.status_code == 404
    assert "notes/gpus.md" in again.json()["detail"]


async def test_typed_metadata_is_filterable_by_range(make_settings: SettingsFactory) -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        await _ingest(client, GPU_DOC, CACHE_DOC)
        recent = await _sources(client, "What is stored?", context_filter={"year": {"gte": 2026}})
        hardware = await _sources(
            client, "What is stored?", context_filter={"category": {"in": ["hardware"]}}
        )
    assert recent == ["notes/cache.md"]
    assert hardware == ["notes/gpus.md"]


async def test_a_document_whose_id_begins_with_a_slash_can_be_deleted(
    make_settings: SettingsFactory,
) -> None:
    rooted = {**GPU_DOC, "id": "/srv/notes/gpus.md"}
    async with AsyncTestClient(create_app(make_settings())) as client:
        await _ingest(client, rooted)
        deleted = await client.delete("/documents//srv/notes/gpus.md")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["deleted"] == "/srv/notes/gpus.md"


async def test_delete_refuses_an_id_ingestion_would_refuse(make_settings: SettingsFactory) -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        response = await client.delete("/documents/notes%01gpus.md")
    assert response.status_code == 400
    assert "control characters" in response.json()["detail"]
