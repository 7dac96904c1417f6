"""``ragfleet reindex`` rebuilds the chunk collection from the canonical store behind the alias.

Real Milvus Lite (a file, or the ``milvus-lite server`` sidecar ``ragfleet serve --workers N``
starts), the real embedder and the real CLI in a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import anyio.to_thread
import pytest

from ragfleet.adapters.chunk_collections import create_chunk_collection, target_of
from ragfleet.adapters.document_store import MilvusDocumentStore
from ragfleet.adapters.embedder import OnnxEmbedder
from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.ingestion.loaders import LoadedDocument
from ragfleet.ingestion.reindex import Reindexer, ReindexRefusedError
from ragfleet.ingestion.service import IngestionService
from ragfleet.settings import ModelSettings, Settings, StoreSettings
from ragfleet.system.wiring import Corpus, open_corpus
from tests.support.faulty_milvus import FaultyStore

REPO = Path(__file__).resolve().parents[2]
ALIAS = StoreSettings().milvus_collection
DOCUMENTS = [
    LoadedDocument("gpus.md", "The large profile runs several NVIDIA A100 GPUs.", "gpus.md"),
    LoadedDocument("cache.md", "Answers are cached in Redis with the corpus version.", "cache.md"),
    LoadedDocument("gateway.md", "HAProxy is the gateway; it balances with leastconn.", "gw.md"),
    LoadedDocument("raid.md", "NVMe disks form a RAID 0 array for the model cache.", "raid.md"),
    LoadedDocument("alerts.md", "Alertmanager pages when the service is down.", "alerts.md"),
]
QUESTIONS = [
    "Which GPUs does the large profile use?",
    "Where are answers cached?",
    "What balances the traffic?",
    "How are the disks arranged?",
    "Who gets paged?",
]


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(ModelSettings())


def _settings(tmp_path: Path, **store: object) -> Settings:
    return Settings(store=StoreSettings(data_dir=tmp_path / "data", **store))  # type: ignore[arg-type]


async def _sources(corpus: Corpus, embedder: OnnxEmbedder) -> list[list[str]]:
    vectors = embedder.embed(QUESTIONS)
    return [
        [hit.doc_id for hit in await corpus.chunks.search(vector.tolist(), 3, "")]
        for vector in vectors
    ]


async def _target(corpus: Corpus) -> str | None:
    connection = corpus.chunks.connection
    return await connection.call(lambda c: target_of(c, ALIAS, connection.timeout))  # type: ignore[no-any-return]


def _reindex_command(settings: Settings) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "service"),
        "RAGFLEET_DATA_DIR": str(settings.store.data_dir),
        "RAGFLEET_MILVUS_URI": settings.store.milvus_uri,
        "RAGFLEET_MILVUS_TIMEOUT_S": str(settings.store.milvus_timeout_s),
    }
    return [sys.executable, "-m", "ragfleet", "reindex", "--quiet"], env


async def test_reindex_after_the_chunk_collection_was_dropped_brings_every_document_back(
    tmp_path: Path, embedder: OnnxEmbedder
) -> None:
    settings = _settings(tmp_path)
    async with open_corpus(settings) as corpus:
        await corpus.ingestion.ingest(DOCUMENTS)
        before = await _sources(corpus, embedder)
        generation = await _target(corpus)
        timeout = corpus.chunks.connection.timeout
        await corpus.chunks.connection.call(
            lambda c: c.drop_collection(generation, timeout=timeout)
        )
    command, env = _reindex_command(settings)
    done = await anyio.to_thread.run_sync(
        lambda: subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    )
    assert done.returncode == 0, done.stderr
    async with open_corpus(settings) as corpus:
        assert await _sources(corpus, embedder) == before
        assert await corpus.chunks.count_chunks() == len(DOCUMENTS)
        assert await _target(corpus) == f"{ALIAS}_2"
    assert all(len(found) == 3 for found in before)


async def test_queries_are_answered_throughout_a_reindex_against_a_milvus_server(
    tmp_path: Path, milvus_server: MilvusLiteServer, embedder: OnnxEmbedder
) -> None:
    settings = _settings(tmp_path, milvus_uri=milvus_server.uri, milvus_timeout_s=5.0)
    vectors = [v.tolist() for v in embedder.embed(QUESTIONS)]
    failures: list[str] = []
    empty = answered = 0
    async with open_corpus(settings) as corpus:
        await corpus.ingestion.ingest(DOCUMENTS)
        before = await _target(corpus)
        command, env = _reindex_command(settings)
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        waiting = asyncio.create_task(process.communicate())
        while not waiting.done():
            for vector in vectors:
                try:
                    hits = await corpus.chunks.search(vector, 3, "")
                except Exception as exc:  # every failure is counted, whatever its kind
                    failures.append(repr(exc))
                    continue
                answered += 1
                empty += not hits
            await asyncio.sleep(0)
        _, stderr = await waiting
        after = await _target(corpus)
        collections = await corpus.chunks.connection.call(lambda c: c.list_collections())
    assert process.returncode == 0, stderr.decode()
    assert (before, after) == (f"{ALIAS}_1", f"{ALIAS}_2")
    assert f"{ALIAS}_1" not in collections
    assert failures == []
    assert empty == 0
    assert answered > len(QUESTIONS)


async def test_writes_during_the_switch_are_in_the_new_collection(
    tmp_path: Path, milvus_server: MilvusLiteServer, embedder: OnnxEmbedder
) -> None:
    """The reindex is held just before it moves the alias; another worker meanwhile adds,
    replaces and deletes documents, all of which land in the old collection."""
    settings = _settings(tmp_path, milvus_uri=milvus_server.uri, milvus_timeout_s=30.0)
    held = FaultyStore(settings.store, embedder.dim)
    documents = MilvusDocumentStore(held.connection)
    reindexer = Reindexer(
        _ingestion(held, documents, embedder, settings), held, documents, embedder.dim
    )
    gpus, cache, gateway, *_ = DOCUMENTS
    added = LoadedDocument("added.md", "Grafana dashboards show the GPU memory.", "added.md")
    replaced = LoadedDocument(cache.id, "Answers are cached in Valkey now.", cache.source)
    try:
        async with open_corpus(settings) as writer:
            await writer.ingestion.ingest(DOCUMENTS)
            await held.ensure_ready()
            held.faults.hold("alter_alias")
            running = asyncio.create_task(reindexer.run())
            assert await anyio.to_thread.run_sync(held.faults.held.wait, 60)
            await writer.ingestion.ingest([added, replaced])
            assert await writer.ingestion.delete(gateway.id) is not None
            held.faults.released.set()
            report = await running
            assert report.collection == f"{ALIAS}_2"
            chunk_rows = await writer.chunks.connection.query_all(
                ALIAS, "", ["doc_id", "content_hash"]
            )
            newest = await writer.documents.newest()
    finally:
        held.faults.released.set()
        await held.close()
    indexed = {(str(r["doc_id"]), str(r["content_hash"])) for r in chunk_rows}
    assert indexed == set(newest.items())
    assert set(newest) == {d.id for d in DOCUMENTS if d.id != gateway.id} | {added.id}
    assert newest[cache.id] == writer.ingestion.fingerprint(replaced)
    assert gpus.id in newest


async def test_a_database_from_before_generations_is_moved_behind_the_alias(
    tmp_path: Path, embedder: OnnxEmbedder
) -> None:
    settings = _settings(tmp_path)
    settings.store.milvus_lite_path.parent.mkdir(parents=True)
    from pymilvus import MilvusClient

    legacy = MilvusClient(str(settings.store.milvus_lite_path))
    create_chunk_collection(legacy, ALIAS, embedder.dim, 10)
    legacy.close()
    async with open_corpus(settings) as corpus:
        assert await _target(corpus) == ALIAS  # the service keeps using it as it is
        await corpus.ingestion.ingest(DOCUMENTS)
        before = await _sources(corpus, embedder)
        await corpus.reindexer().run()
        assert await _target(corpus) == f"{ALIAS}_1"
        assert await _sources(corpus, embedder) == before


async def test_a_generation_left_by_a_reindex_that_stopped_is_dropped_by_the_next(
    tmp_path: Path, embedder: OnnxEmbedder
) -> None:
    async with open_corpus(_settings(tmp_path)) as corpus:
        await corpus.ingestion.ingest(DOCUMENTS)
        connection = corpus.chunks.connection
        await connection.call(lambda c: create_chunk_collection(c, f"{ALIAS}_7", embedder.dim, 10))
        report = await corpus.reindexer().run()
        collections = await connection.call(lambda c: c.list_collections())
    assert report.collection == f"{ALIAS}_8"
    assert sorted(name for name in collections if name.startswith(f"{ALIAS}_")) == [
        f"{ALIAS}_8",
        f"{ALIAS}_documents",
        f"{ALIAS}_meta",
    ]


async def test_reindex_refuses_when_the_index_holds_documents_the_canonical_store_lacks(
    tmp_path: Path,
) -> None:
    async with open_corpus(_settings(tmp_path)) as corpus:
        await corpus.ingestion.ingest(DOCUMENTS)
        await corpus.documents.delete(DOCUMENTS[0].id)
        with pytest.raises(ReindexRefusedError, match=DOCUMENTS[0].id):
            await corpus.reindexer().run()
        assert await _target(corpus) == f"{ALIAS}_1"
        assert await corpus.chunks.count_chunks() == len(DOCUMENTS)


def _ingestion(
    store: FaultyStore, documents: MilvusDocumentStore, embedder: OnnxEmbedder, settings: Settings
) -> IngestionService:
    return IngestionService(
        store,
        embedder,
        documents=documents,
        chunk_size=settings.store.chunk_size,
        chunk_overlap=settings.store.chunk_overlap,
        metadata_max_bytes=settings.store.metadata_max_bytes,
    )


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subprocess reads only what the test sets."""
    for name in list(os.environ):
        if name.startswith("RAGFLEET_"):
            monkeypatch.delenv(name)
