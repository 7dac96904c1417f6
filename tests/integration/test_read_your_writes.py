"""A write that was acknowledged is visible to the next read, on any worker.

Milvus servers default to Bounded consistency: a search may miss what was written in the last
moments. Every search and query asks for Strong. Milvus Lite applies writes before it answers, so
against it the end-to-end test passes either way; the consistency level is checked on the calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.adapters.vector_store import ChunkRecord
from ragfleet.app import create_app
from ragfleet.settings import StoreSettings
from tests.integration.conftest import SettingsFactory
from tests.support.faulty_milvus import FaultyStore

NEAR = [1.0, 0.0, 0.0, 0.0]


async def test_every_search_and_query_asks_for_strong_consistency(
    milvus_server: MilvusLiteServer, tmp_path: Path
) -> None:
    settings = StoreSettings(data_dir=tmp_path / "data", milvus_uri=milvus_server.uri)
    store = FaultyStore(settings, dim=len(NEAR))
    try:
        await store.ensure_ready()
        store.faults.record("search", "query")
        chunk = ChunkRecord("doc", 0, "Stored.", "doc", "h", NEAR)
        await store.replace_document("doc", [chunk])
        await store.search(NEAR, 1, "")
        await store.count_chunks()
        await store.bump_corpus_version()
        await store.delete_document("doc")
    finally:
        await store.close()
    reads = store.faults.recorded
    assert {name for name, _ in reads} == {"search", "query"}
    assert all(options.get("consistency_level") == "Strong" for _, options in reads), reads


async def test_a_document_ingested_on_one_worker_is_found_at_once_on_another(
    make_settings: SettingsFactory, milvus_server: MilvusLiteServer
) -> None:
    settings = make_settings(milvus_uri=milvus_server.uri)
    found: list[list[str]] = []
    async with (
        AsyncTestClient(create_app(settings)) as writer,
        AsyncTestClient(create_app(settings)) as reader,
    ):
        for n in range(3):
            document = {"id": f"fresh-{n}", "text": f"Fresh fact number {n}: the sky is green."}
            written = await writer.post("/documents", json={"documents": [document]})
            assert written.status_code == 200, written.text
            only_it = {"doc_id": document["id"]}
            answer = await reader.post(
                "/query", json={"query": "What colour is the sky?", "context_filter": only_it}
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            found.append(body["sources"])
    assert found == [["fresh-0"], ["fresh-1"], ["fresh-2"]]
