"""Every acknowledged document is kept whole in the canonical store, beside its chunks.

Real Milvus Lite and the real embedder; faults are injected into the store's pymilvus client
(tests/support/faulty_milvus.py): one chosen write raises, as a Milvus that went away would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from ragfleet.adapters.document_store import MilvusDocumentStore, split_utf8
from ragfleet.adapters.embedder import OnnxEmbedder
from ragfleet.app import create_app
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.ingestion.loaders import LoadedDocument
from ragfleet.ingestion.service import IngestionService
from ragfleet.settings import ModelSettings, StoreSettings
from tests.integration.conftest import SettingsFactory
from tests.support.faulty_milvus import FaultyStore

# Over one VARCHAR (65,535 bytes) in UTF-8, with two- and three-byte characters across the cuts.
LONG_TEXT = "".join(
    f"Paragraph {n}: Milvus garde le texte complet — élève, façade, 東京の倉庫.\n\n"
    for n in range(1500)
)
OLD = LoadedDocument("notes/gpus.md", "The large profile runs NVIDIA A100 GPUs.", "notes/gpus.md")
NEW = LoadedDocument("notes/gpus.md", "The large profile runs NVIDIA H100 GPUs.", "notes/gpus.md")
OTHER = LoadedDocument("notes/cache.md", "Answers are cached in Redis.", "notes/cache.md")


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(ModelSettings())


@dataclass
class Corpus:
    chunks: FaultyStore
    embedder: OnnxEmbedder
    documents: MilvusDocumentStore
    ingestion: IngestionService
    versions: list[int]


@pytest.fixture
async def corpus(tmp_path: Path, embedder: OnnxEmbedder) -> AsyncIterator[Corpus]:
    settings = StoreSettings(data_dir=tmp_path / "data")
    chunks = FaultyStore(settings, embedder.dim)
    documents = MilvusDocumentStore(chunks.connection)
    versions: list[int] = []

    async def changed(version: int) -> None:
        versions.append(version)

    ingestion = IngestionService(
        chunks,
        embedder,
        documents=documents,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        metadata_max_bytes=settings.metadata_max_bytes,
        on_change=changed,
    )
    await chunks.ensure_ready()
    yield Corpus(chunks, embedder, documents, ingestion, versions)
    await chunks.close()


async def _search_texts(corpus: Corpus, question: str) -> list[str]:
    [vector] = corpus.embedder.embed([question])
    return [hit.text for hit in await corpus.chunks.search(vector.tolist(), 5, "")]


def test_long_text_is_cut_on_character_boundaries_within_the_varchar_limit() -> None:
    parts = split_utf8(LONG_TEXT)
    assert len(LONG_TEXT.encode("utf-8")) > 65535
    assert len(parts) > 1
    assert all(len(part.encode("utf-8")) <= 65535 for part in parts)
    assert "".join(parts) == LONG_TEXT


async def test_acknowledged_documents_are_stored_whole(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    documents: list[dict[str, Any]] = [
        {"id": "long.md", "text": LONG_TEXT, "metadata": {"lang": "fr"}},
        {"id": "short.md", "text": OTHER.text, "source": "wiki/cache"},
    ]
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.post("/documents", json={"documents": documents})
        assert response.status_code == 200, response.text
    chunks = FaultyStore(settings.store, dim=384)
    store = MilvusDocumentStore(chunks.connection)
    try:
        await chunks.ensure_ready()
        long_doc, short_doc = await store.get("long.md"), await store.get("short.md")
        assert await store.count() == 2
    finally:
        await chunks.close()
    assert long_doc is not None
    assert short_doc is not None
    assert long_doc.text == LONG_TEXT
    assert long_doc.metadata == {"lang": "fr"}
    assert (short_doc.text, short_doc.source) == (OTHER.text, "wiki/cache")
    assert long_doc.stored_at_ms > 0


async def test_a_failure_between_the_canonical_write_and_the_chunks_keeps_the_acknowledged_version(
    corpus: Corpus,
) -> None:
    await corpus.ingestion.ingest([OLD])
    # The replacement's writes: the canonical record (1), then the chunks (2).
    corpus.chunks.faults.fail_at(2)
    with pytest.raises(VectorStoreUnavailableError):
        await corpus.ingestion.ingest([NEW])
    stored = await corpus.documents.get(OLD.id)
    assert stored is not None
    assert stored.text == OLD.text
    assert await _search_texts(corpus, "Which GPUs does the large profile run?") == [OLD.text]

    await corpus.ingestion.ingest([NEW])  # the retry succeeds and replaces both
    stored = await corpus.documents.get(NEW.id)
    assert stored is not None
    assert stored.text == NEW.text
    assert await _search_texts(corpus, "Which GPUs does the large profile run?") == [NEW.text]


async def test_reingesting_keeps_one_generation_in_the_canonical_store(corpus: Corpus) -> None:
    await corpus.ingestion.ingest([OLD])
    await corpus.ingestion.ingest([NEW])
    assert await corpus.documents.generations(NEW.id) == {corpus.ingestion.fingerprint(NEW)}


async def test_deleting_a_document_removes_its_record_and_its_chunks(corpus: Corpus) -> None:
    await corpus.ingestion.ingest([OLD, OTHER])
    assert await corpus.ingestion.delete(OLD.id) is not None
    assert await corpus.documents.get(OLD.id) is None
    assert await corpus.chunks.generations(OLD.id) == []
    assert await corpus.documents.newest() == {OTHER.id: corpus.ingestion.fingerprint(OTHER)}


async def test_a_document_missing_from_the_canonical_store_is_written_again(
    corpus: Corpus,
) -> None:
    """A database from before the canonical store: ingesting the same files again fills it."""
    await corpus.ingestion.ingest([OLD])
    await corpus.documents.delete(OLD.id)
    report = await corpus.ingestion.ingest([OLD])
    assert report.ingested == 1
    assert await corpus.documents.get(OLD.id) is not None


async def test_a_batch_that_fails_part_way_moves_the_corpus_version_for_what_it_stored(
    corpus: Corpus,
) -> None:
    before = await corpus.chunks.corpus_version()
    # OTHER's canonical record (1) and chunks (2) are stored; NEW's record (3) too, its chunks (4)
    # fail.
    corpus.chunks.faults.fail_at(4)
    with pytest.raises(VectorStoreUnavailableError):
        await corpus.ingestion.ingest([OTHER, NEW])
    assert await corpus.chunks.corpus_version() > before
    assert corpus.versions[-1:] == [await corpus.chunks.corpus_version()]
    assert await _search_texts(corpus, "Where are answers cached?") == [OTHER.text]
