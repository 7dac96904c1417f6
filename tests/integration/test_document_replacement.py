"""Replacing a document never loses the acknowledged version and never stores a chunk twice.

Faults are injected into a real Milvus Lite (tests/support/faulty_milvus.py): one chosen write
raises, as a Milvus that went away mid-replacement would, or a write is held on its way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio.to_thread
import pytest

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.adapters.vector_store import ChunkRecord
from ragfleet.domain import SearchHit
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.settings import StoreSettings
from tests.support.faulty_milvus import FaultyStore

DIM = 4
OLD = ["Old text, part one.", "Old text, part two.", "Old text, part three."]
NEW = ["New text, part one.", "New text, part two."]
NEAR = [1.0, 0.0, 0.0, 0.0]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FaultyStore]:
    store = FaultyStore(StoreSettings(data_dir=tmp_path / "data"), dim=DIM)
    await store.ensure_ready()
    yield store
    await store.close()


def _version(doc_id: str, generation: str, texts: Sequence[str]) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            doc_id=doc_id,
            chunk_index=index,
            text=text,
            source=doc_id,
            content_hash=generation,
            embedding=[1.0, 0.1 * index, 0.05 * len(texts), 0.0],
        )
        for index, text in enumerate(texts)
    ]


def _assert_one_whole_version(hits: list[SearchHit]) -> None:
    """Every chunk of exactly one version, each once."""
    texts = sorted(hit.text for hit in hits)
    assert texts in (sorted(OLD), sorted(NEW)), texts


@pytest.mark.parametrize("failing_write", [1, 2], ids=["first-write", "second-write"])
async def test_a_replacement_that_fails_midway_leaves_a_whole_version_searchable(
    store: FaultyStore, failing_write: int
) -> None:
    await store.replace_document("doc", _version("doc", "old", OLD))
    store.faults.fail_at(failing_write)
    with pytest.raises(VectorStoreUnavailableError):
        await store.replace_document("doc", _version("doc", "new", NEW))
    _assert_one_whole_version(await store.search(NEAR, limit=10, expression=""))


async def test_ingesting_again_after_a_failed_replacement_leaves_only_the_new_version(
    store: FaultyStore,
) -> None:
    await store.replace_document("doc", _version("doc", "old", OLD))
    store.faults.fail_at(2)
    with pytest.raises(VectorStoreUnavailableError):
        await store.replace_document("doc", _version("doc", "new", NEW))
    assert await store.content_hash("doc") is None  # so ingestion does not skip it as unchanged

    await store.replace_document("doc", _version("doc", "new", NEW))
    assert await store.content_hash("doc") == "new"
    assert await store.count_chunks() == len(NEW)
    assert sorted(h.text for h in await store.search(NEAR, limit=10, expression="")) == NEW


async def test_writing_the_same_version_twice_stores_each_chunk_once(store: FaultyStore) -> None:
    await store.replace_document("doc", _version("doc", "new", NEW))
    await store.replace_document("doc", _version("doc", "new", NEW))
    assert await store.count_chunks() == len(NEW)


async def test_rows_are_upserted_so_a_milvus_server_keeps_one_row_per_key(
    store: FaultyStore,
) -> None:
    """A Milvus server keeps both rows when a key is inserted twice; Milvus Lite keeps the last,
    so only the call can be checked here."""
    await store.replace_document("doc", _version("doc", "old", OLD))
    await store.replace_document("doc", _version("doc", "new", NEW))
    assert "insert" not in store.faults.writes
    assert "upsert" in store.faults.writes


async def test_a_request_retried_on_another_worker_does_not_duplicate_chunks(
    milvus_server: MilvusLiteServer, tmp_path: Path
) -> None:
    """A client that timed out at the gateway sends the document again; another worker writes it
    while the first worker's rows are still on their way."""
    settings = StoreSettings(data_dir=tmp_path / "data", milvus_uri=milvus_server.uri)
    first, retried = FaultyStore(settings, dim=DIM), FaultyStore(settings, dim=DIM)
    try:
        await first.ensure_ready()
        await retried.ensure_ready()
        first.faults.hold("insert", "upsert")
        slow = asyncio.create_task(first.replace_document("doc", _version("doc", "new", NEW)))
        assert await anyio.to_thread.run_sync(first.faults.held.wait, 10)
        await retried.replace_document("doc", _version("doc", "new", NEW))
        first.faults.released.set()
        await slow
        assert await retried.count_chunks() == len(NEW)
    finally:
        first.faults.released.set()
        await first.close()
        await retried.close()
