"""The service's long-lived objects, built from settings in one place and closed in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
from loguru import logger

from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.adapters.embedder import OnnxEmbedder
from ragfleet.adapters.llm import OpenAIChatClient
from ragfleet.adapters.vector_store import MilvusVectorStore, VectorStoreUnavailableError
from ragfleet.ingestion.service import IngestionService
from ragfleet.query.service import QueryService
from ragfleet.settings import Settings
from ragfleet.system.readiness import ReadinessProbe


@dataclass(frozen=True, slots=True)
class Services:
    """What request handlers are given through dependency injection."""

    settings: Settings
    queries: QueryService
    ingestion: IngestionService
    readiness: ReadinessProbe


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Start the embedded LLM if no server is configured, open the stores, and clean up after."""
    embedded: EmbeddedLLMServer | None = None
    llm_url = settings.llm_base_url
    if not llm_url:
        embedded = EmbeddedLLMServer.from_settings(settings)
        await anyio.to_thread.run_sync(embedded.start)
        llm_url = embedded.base_url
    embedder = await anyio.to_thread.run_sync(OnnxEmbedder.from_settings, settings)
    store = MilvusVectorStore(settings, embedder.dim)
    llm = OpenAIChatClient(settings, llm_url)
    try:
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
            # A Milvus server may come back: /readyz says so, queries answer 503 meanwhile.
            logger.opt(exception=True).warning("vector store not reachable at start-up")
        yield Services(
            settings=settings,
            queries=QueryService(
                store,
                embedder,
                llm,
                context_chars=settings.llm_context_chars,
                search_timeout_s=settings.search_timeout_s,
            ),
            ingestion=IngestionService(
                store,
                embedder,
                chunk_size=settings.chunk_size,
                chunk_overlap=settings.chunk_overlap,
            ),
            readiness=ReadinessProbe(store, llm),
        )
    finally:
        await llm.close()
        await store.close()
        if embedded is not None:
            await anyio.to_thread.run_sync(embedded.stop)
