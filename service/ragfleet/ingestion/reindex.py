"""Rebuild the vector index from the canonical store into a new chunk collection, then switch.

The new generation (:mod:`ragfleet.adapters.chunk_collections`) is filled beside the live one,
which keeps answering; the alias then moves to it in one call, and the old collection is dropped
once every call that could still be reading it has had its deadline.

Writes during a reindex are not lost: instead of a lock that ingestion would wait on, the copy is
*reconciled*. After the first pass over the canonical store, each further pass copies the
documents whose newest generation changed since it was copied (and removes those deleted), until
a pass finds nothing to do; then the alias moves; then one more pass runs against the new
collection. A write acknowledged before the switch wrote its canonical record before its chunks
(and a delete removed the record before the chunks), so that last pass sees it; a write after the
switch goes through the alias into the new collection itself. Each document is copied under its
lock (:mod:`ragfleet.ingestion.locks`), as ingestion writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from loguru import logger

from ragfleet.adapters.chunk_collections import (
    create_chunk_collection,
    generation_name,
    generation_numbers,
    point_alias,
    target_of,
)
from ragfleet.adapters.document_store import MilvusDocumentStore
from ragfleet.adapters.milvus_connection import MilvusConnection
from ragfleet.adapters.vector_store import ChunkRecord, MilvusVectorStore
from ragfleet.errors import RagfleetError
from ragfleet.ingestion.service import IngestionService

# Passes over the canonical store before the switch; writes that keep arriving faster than a pass
# copies them are left to the pass after the switch.
MAX_PASSES = 5


class ReindexRefusedError(RagfleetError):
    """The index holds documents the canonical store lacks: rebuilding would drop them."""


@dataclass(frozen=True, slots=True)
class ReindexReport:
    """What a reindex built."""

    collection: str
    previous: str | None
    documents: int
    chunks: int
    corpus_version: int


@dataclass(slots=True)
class _Copy:
    """What the new collection holds so far: each document's generation, and the chunk count."""

    generations: dict[str, str]
    chunks: dict[str, int]


class Reindexer:
    """Builds generation n+1 of the chunk collection from the canonical store and switches."""

    def __init__(
        self,
        ingestion: IngestionService,
        store: MilvusVectorStore,
        documents: MilvusDocumentStore,
        dim: int,
    ) -> None:
        self._ingestion = ingestion
        self._store = store
        self._documents = documents
        self._dim = dim
        self._connection: MilvusConnection = store.connection
        self._alias = store.collection
        self._timeout = self._connection.timeout
        self._prepared: Mapping[str, Sequence[ChunkRecord]] = {}

    async def run(
        self,
        on_total: Callable[[int], None] = lambda total: None,
        on_document: Callable[[], None] = lambda: None,
        *,
        keep_unknown: bool = True,
        prepared: Mapping[str, Sequence[ChunkRecord]] | None = None,
    ) -> ReindexReport:
        """Rebuild, switch, drop the old collection and move the corpus version forward.

        ``keep_unknown``: refuse to start while the live index holds documents the canonical
        store lacks; ``ragfleet restore``, which means to drop them, turns it off.
        ``prepared``: chunks with vectors by document (a backup's), written instead of embedding
        again where they are of the generation the current settings make.
        """
        self._prepared = prepared or {}
        await self._store.ensure_ready()
        previous = await self._call(lambda c: target_of(c, self._alias, self._timeout))
        if keep_unknown:
            await self._refuse_missing_documents()
        numbers = await self._call(lambda c: generation_numbers(c, self._alias, self._timeout))
        target = generation_name(self._alias, max(numbers, default=0) + 1)
        await self._call(lambda c: self._create(c, target))
        new = MilvusVectorStore(
            self._connection.settings, self._dim, connection=self._connection, collection=target
        )
        copy = _Copy({}, {})
        for number in range(MAX_PASSES):
            changed = await self._pass(new, copy, on_total if number == 0 else None, on_document)
            if not changed:
                break
        logger.info("switching {} from {} to {}", self._alias, previous, target)
        await self._call(lambda c: point_alias(c, self._alias, target, self._timeout))
        await self._pass(new, copy, None, on_document)
        await self._drop_old(keep=target)
        version = await self._store.bump_corpus_version()
        return ReindexReport(
            target, previous, len(copy.generations), sum(copy.chunks.values()), version
        )

    async def _call(self, func: Callable[[Any], Any]) -> Any:
        return await self._connection.call(func)

    def _create(self, client: Any, name: str) -> None:
        create_chunk_collection(client, name, self._dim, self._timeout)
        client.load_collection(name, timeout=self._timeout)

    async def _refuse_missing_documents(self) -> None:
        """Stop before anything changes when the live index holds a document the canonical store
        does not (a database from before the canonical store: ingest those files again)."""
        rows = await self._connection.query_all(self._alias, "", ["doc_id"])
        missing = sorted({str(row["doc_id"]) for row in rows} - set(await self._documents.newest()))
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise ReindexRefusedError(
                f"{len(missing)} documents in the index are not in the canonical store ({shown});"
                " ingest them again (ragfleet ingest or POST /documents) before reindexing"
            )

    async def _pass(
        self,
        new: MilvusVectorStore,
        copy: _Copy,
        on_total: Callable[[int], None] | None,
        on_document: Callable[[], None],
    ) -> bool:
        """Copy what changed in the canonical store since the last pass; True when anything did."""
        newest = await self._documents.newest()
        if on_total is not None:
            on_total(len(newest))
        changed = False
        for doc_id, content_hash in newest.items():
            if copy.generations.get(doc_id) == content_hash:
                continue
            document = await self._documents.read(doc_id, content_hash)
            if document is None:  # replaced meanwhile: the next pass copies the newer one
                changed = True
                continue
            changed = True
            written = await self._ingestion.reindex(document, new, self._prepared.get(doc_id))
            if written is not None:
                copy.generations[doc_id], copy.chunks[doc_id] = written
                on_document()
        for doc_id in set(copy.generations) - set(newest):
            changed = True
            if await self._ingestion.remove_deleted(doc_id, new):
                del copy.generations[doc_id]
                del copy.chunks[doc_id]
        return changed

    async def _drop_old(self, keep: str) -> None:
        """Drop every other generation (the one just replaced, and any left by a reindex that
        stopped), after the deadline of any call that resolved the alias before the switch (none
        can, with Milvus Lite in this process's hands)."""
        if not self._connection.settings.uses_milvus_lite:
            await anyio.sleep(self._connection.deadline_s)

        def drop(client: Any) -> None:
            for number in generation_numbers(client, self._alias, self._timeout):
                name = generation_name(self._alias, number)
                if name != keep:
                    client.drop_collection(name, timeout=self._timeout)

        await self._call(drop)
