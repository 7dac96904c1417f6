"""The service's long-lived objects, built from settings in one place and closed in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio.to_thread
from loguru import logger

import ragfleet
from ragfleet.adapters.document_store import MilvusDocumentStore
from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.adapters.embedder import OnnxEmbedder
from ragfleet.adapters.llm import OpenAIChatClient
from ragfleet.adapters.vector_store import MilvusVectorStore
from ragfleet.cache.backends import AnswerCache, InProcessAnswerCache, RedisAnswerCache
from ragfleet.cache.version_follower import VersionFollower
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.ingestion.locks import DocumentLocks, LocalDocumentLocks, RedisDocumentLocks
from ragfleet.ingestion.reindex import Reindexer
from ragfleet.ingestion.service import IngestionService
from ragfleet.observability.metrics import BUILD_INFO, CORPUS_CHUNKS, CORPUS_VERSION
from ragfleet.query.service import QueryService
from ragfleet.settings import ModelSettings, Settings, StoreSettings
from ragfleet.system.readiness import ReadinessProbe


@dataclass(frozen=True, slots=True)
class Services:
    """What request handlers are given through dependency injection."""

    settings: Settings
    queries: QueryService
    ingestion: IngestionService
    readiness: ReadinessProbe


@dataclass(frozen=True, slots=True)
class Corpus:
    """The corpus without the query side, as ``ragfleet ingest``, ``reindex``, ``backup`` and
    ``restore`` need it."""

    ingestion: IngestionService
    chunks: MilvusVectorStore
    documents: MilvusDocumentStore
    embedder: OnnxEmbedder

    def reindexer(self) -> Reindexer:
        """What rebuilds the chunk collection from the canonical store."""
        return Reindexer(self.ingestion, self.chunks, self.documents, self.embedder.dim)


def build_cache(settings: Settings, store: MilvusVectorStore) -> AnswerCache | None:
    """Redis when configured, else one worker's memory; None when the cache is switched off."""
    cache = settings.cache
    if not cache.cache_enabled:
        return None
    if cache.redis_url:
        return RedisAnswerCache(
            cache.redis_url,
            store.corpus_version,
            ttl_s=cache.cache_ttl_s,
            timeout_s=cache.cache_timeout_s,
            retry_after_error_s=cache.cache_retry_after_error_s,
            wait_s=cache.cache_single_flight_wait_s,
            lock_ttl_s=settings.models.llm_timeout_s + 10,
            near_max_entries=cache.cache_max_entries,
            tls_ca_file=settings.security.tls_ca_file,
        )
    return InProcessAnswerCache(
        store.corpus_version,
        ttl_s=cache.cache_ttl_s,
        max_entries=cache.cache_max_entries,
        wait_s=cache.cache_single_flight_wait_s,
    )


# A write holds a document's lock for a few Milvus calls (the canonical record's generations and
# upsert, the chunk generations stored, the upsert, the deletes), each bounded by the Milvus
# timeout; a writer that died frees it after this many of them.
DOCUMENT_LOCK_MILVUS_CALLS = 10


def build_document_locks(settings: Settings) -> DocumentLocks:
    """Locks shared through Redis when one is configured (workers and hosts take turns writing a
    document), else this worker's own."""
    if not settings.cache.redis_url:
        return LocalDocumentLocks()
    ttl_s = DOCUMENT_LOCK_MILVUS_CALLS * settings.store.milvus_timeout_s + 5
    return RedisDocumentLocks(
        settings.cache.redis_url,
        ttl_s=ttl_s,
        wait_s=ttl_s,
        timeout_s=settings.cache.cache_timeout_s,
        tls_ca_file=settings.security.tls_ca_file,
    )


async def _open_store(
    settings: StoreSettings, store: MilvusVectorStore, *, required: bool = False
) -> None:
    """Connect and create the collections; ``required``: a Milvus server that is down is an
    error (the CLI), not a warning (the service, whose /readyz reports it)."""
    try:
        await store.ensure_ready()
    except VectorStoreUnavailableError as exc:
        if settings.uses_milvus_lite:
            # A local directory that cannot be opened will not fix itself: say how to fix it.
            raise RuntimeError(
                f"cannot open Milvus Lite at {settings.milvus_lite_path} ({exc.__cause__!r})."
                " Only one process may open it: stop the other ragfleet process, ingest"
                " through POST /documents, or run `ragfleet serve --workers N`, which starts"
                " a Milvus Lite server for the workers."
            ) from exc
        if required:
            raise RuntimeError(f"cannot reach Milvus at {store.uri}: {exc.__cause__!r}") from exc
        # A Milvus server may come back: /readyz says so, queries answer 503 meanwhile.
        logger.opt(exception=True).warning("vector store not reachable at start-up")
        return
    CORPUS_VERSION.set(await store.corpus_version())
    CORPUS_CHUNKS.set(await store.count_chunks())


@contextmanager
def llm_server(settings: ModelSettings) -> Iterator[str]:
    """The configured LLM server's URL, or the embedded llama.cpp server's, started for the
    block's duration: the one place it starts (``ragfleet serve`` shares it with its workers)."""
    if settings.llm_base_url:
        yield settings.llm_base_url
        return
    embedded = EmbeddedLLMServer.from_settings(settings)
    embedded.start()
    try:
        yield embedded.base_url
    finally:
        embedded.stop()


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Start the embedded LLM if no server is configured, open the stores, and clean up after."""
    async with AsyncExitStack() as stack:
        llm_url = await anyio.to_thread.run_sync(stack.enter_context, llm_server(settings.models))
        embedder = await anyio.to_thread.run_sync(OnnxEmbedder.from_settings, settings.models)
        store = MilvusVectorStore(
            settings.store, embedder.dim, tls_ca_file=settings.security.tls_ca_file
        )
        documents = MilvusDocumentStore(store.connection)
        stack.push_async_callback(store.close)
        llm = OpenAIChatClient(settings.models, llm_url)
        stack.push_async_callback(llm.close)
        cache = build_cache(settings, store)
        if cache is not None:
            stack.push_async_callback(cache.close)
            await cache.open()
        locks = build_document_locks(settings)
        stack.push_async_callback(locks.close)
        await _open_store(settings.store, store)
        if cache is not None:  # the cache follows the store's corpus version, whoever moves it
            follower = VersionFollower(
                store.corpus_version, cache, interval_s=settings.cache.cache_version_check_s
            )
            await stack.enter_async_context(follower.running())
        BUILD_INFO.labels(version=ragfleet.__version__).set(1)

        async def corpus_changed(version: int) -> None:
            CORPUS_VERSION.set(version)
            if cache is not None:
                await cache.set_version(version)
            CORPUS_CHUNKS.set(await store.count_chunks())

        yield Services(
            settings=settings,
            queries=QueryService(
                store,
                embedder,
                llm,
                cache,
                context_chars=settings.models.llm_context_chars,
                search_timeout_s=settings.store.search_timeout_s,
                generate_timeout_s=settings.models.llm_timeout_s,
            ),
            ingestion=_ingestion(
                settings.store, store, documents, embedder, locks, on_change=corpus_changed
            ),
            readiness=ReadinessProbe(store, llm, cache),
        )


@asynccontextmanager
async def open_corpus(settings: Settings) -> AsyncIterator[Corpus]:
    """The corpus alone, as the CLI's corpus commands need it: no LLM, no cache, and a vector
    store that must open (with Milvus Lite, nobody else may hold the database)."""
    embedder = await anyio.to_thread.run_sync(OnnxEmbedder.from_settings, settings.models)
    store = MilvusVectorStore(
        settings.store, embedder.dim, tls_ca_file=settings.security.tls_ca_file
    )
    documents = MilvusDocumentStore(store.connection)
    locks = build_document_locks(settings)
    try:
        await _open_store(settings.store, store, required=True)
        ingestion = _ingestion(settings.store, store, documents, embedder, locks)
        yield Corpus(ingestion, store, documents, embedder)
    finally:
        await locks.close()
        await store.close()


def _ingestion(
    settings: StoreSettings,
    store: MilvusVectorStore,
    documents: MilvusDocumentStore,
    embedder: OnnxEmbedder,
    locks: DocumentLocks,
    on_change: Callable[[int], Awaitable[None]] | None = None,
) -> IngestionService:
    return IngestionService(
        store,
        embedder,
        documents=documents,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        metadata_max_bytes=settings.metadata_max_bytes,
        on_change=on_change,
        locks=locks,
    )
