"""Milvus as the chunk store: Milvus Lite in-process by default, any Milvus server by URI.

Filterable attributes are typed scalar columns with INVERTED indexes (JSON-path filters cost
~600 ms at 20k rows in Milvus Lite). Calls go through a :class:`MilvusConnection` (deadlines, the
Milvus Lite lock), shared with the canonical document store. The chunks live in generations
behind an alias (:mod:`ragfleet.adapters.chunk_collections`).

A second, tiny collection holds the corpus version, so every worker and host sharing a Milvus sees
the same number.

Each chunk carries its document's generation: the content hash (ingestion's fingerprint) of the
version it was cut from. Replacing a document writes the new generation before removing the old
ones, so at every moment Milvus holds a complete acknowledged version; a search that meets two
generations of one document (a replacement under way, or one that failed half-way) keeps the hits
of one of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ragfleet.adapters.chunk_collections import TEXT_MAX, ensure_chunk_alias
from ragfleet.adapters.milvus_connection import (
    DEADLINE_MARGIN_S,
    READ_CONSISTENCY,
    MilvusConnection,
    create_empty_collection,
    quote,
)
from ragfleet.domain import SearchHit
from ragfleet.settings import StoreSettings

__all__ = ["DEADLINE_MARGIN_S", "TEXT_MAX", "ChunkRecord", "MilvusVectorStore", "VectorStore"]

_META_KEY_VERSION = "corpus_version"


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk with its embedding and the document's typed attributes."""

    doc_id: str
    chunk_index: int
    text: str
    source: str
    content_hash: str
    embedding: Sequence[float]
    category: str = ""
    lang: str = ""
    year: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


class VectorStore(Protocol):
    """What the query and ingestion services need from a vector database."""

    async def ensure_ready(self) -> None: ...
    async def ping(self) -> None: ...
    async def content_hash(self, doc_id: str) -> str | None: ...
    async def replace_document(self, doc_id: str, chunks: Sequence[ChunkRecord]) -> None: ...
    async def delete_document(self, doc_id: str) -> bool: ...
    async def search(
        self, vector: Sequence[float], limit: int, expression: str
    ) -> list[SearchHit]: ...
    async def count_chunks(self) -> int: ...
    async def corpus_version(self) -> int: ...
    async def bump_corpus_version(self) -> int: ...
    async def close(self) -> None: ...


def chunk_key(doc_id: str, content_hash: str, chunk_index: int) -> str:
    """The primary key of one chunk of one generation of a document.

    Deterministic, so writing a generation again (a client retrying after a gateway timeout, two
    workers racing) overwrites the same rows instead of adding copies; distinct per generation, so
    a new version never overwrites the chunks of the one it replaces.
    """
    return f"{doc_id}#{content_hash}#{chunk_index}"


class MilvusVectorStore:
    """:class:`VectorStore` on pymilvus' ``MilvusClient``.

    By default it owns its connection and works on the chunk collection's alias. ``connection``
    shares another store's; ``collection`` names one generation of the chunk collection instead of
    the alias (``ragfleet reindex`` fills a new generation through it) and leaves creating it to
    the caller.
    """

    def __init__(
        self,
        settings: StoreSettings,
        dim: int,
        *,
        tls_ca_file: str = "",
        connection: MilvusConnection | None = None,
        collection: str = "",
    ) -> None:
        self.connection = connection or MilvusConnection(settings, tls_ca_file=tls_ca_file)
        self._dim = dim
        self._alias = settings.milvus_collection
        self._collection = collection or self._alias
        self._meta_collection = f"{settings.milvus_collection}_meta"
        self._timeout = settings.milvus_timeout_s
        if not collection:
            self.connection.on_connect(self._ensure_collections)

    @property
    def uri(self) -> str:
        """The URI handed to pymilvus (a path for Milvus Lite)."""
        return self.connection.uri

    @property
    def deadline_s(self) -> float:
        """How long one call to a Milvus server may take before it fails as unavailable."""
        return self.connection.deadline_s

    @property
    def collection(self) -> str:
        """The collection (or alias) this store reads and writes."""
        return self._collection

    async def _call(self, func: Any) -> Any:
        return await self.connection.call(func)

    async def ensure_ready(self) -> None:
        """Connect, create the collections on first use and load them.

        Every (re)connection does this, since Milvus Lite releases collections on reopen.
        """
        await self._call(lambda client: None)

    def _ensure_collections(self, client: Any) -> None:
        from pymilvus import DataType, MilvusClient

        ensure_chunk_alias(client, self._alias, self._dim, self._timeout)
        if not client.has_collection(self._meta_collection, timeout=self._timeout):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("value", DataType.INT64)
            # Milvus requires a vector field in every collection; this one is never searched.
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            create_empty_collection(client, self._meta_collection, schema, index, self._timeout)
        for name in (self._alias, self._meta_collection):
            client.load_collection(name, timeout=self._timeout)

    async def _query(
        self, collection: str, condition: str, fields: list[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Rows of ``collection`` matching ``condition``: every read but search comes here."""
        return await self.connection.query(collection, condition, fields, **options)

    async def ping(self) -> None:
        """Raise :class:`VectorStoreUnavailableError` unless the chunk collection answers."""
        await self._call(lambda c: c.get_load_state(self._collection, timeout=self._timeout))

    async def content_hash(self, doc_id: str) -> str | None:
        """The generation of ``doc_id`` stored; None when none is, or when two are (a replacement
        that did not finish: ingesting the document again finishes it)."""
        found = await self.generations(doc_id)
        return found[0] if len(found) == 1 else None

    async def generations(self, doc_id: str) -> list[str]:
        """The generations (content hashes) of ``doc_id`` that have chunks stored.

        One query per generation found (Milvus has no DISTINCT); a document normally has one.
        """
        found: list[str] = []
        while True:
            condition = f"doc_id == {quote(doc_id)}"
            if found:
                condition += f" and content_hash not in [{', '.join(map(quote, found))}]"
            rows = await self._query(self._collection, condition, ["content_hash"], limit=1)
            if not rows:
                return found
            found.append(str(rows[0]["content_hash"]))

    async def replace_document(self, doc_id: str, chunks: Sequence[ChunkRecord]) -> None:
        """Store ``chunks`` as the only generation of ``doc_id``, with no moment when it has none.

        The generations stored are read first; the new one is upserted (keys from
        :func:`chunk_key`); then the ones read are removed. A failure before the upsert leaves the
        old generation, a failure after it leaves both (see :meth:`content_hash`). A generation
        written meanwhile by another writer is not removed, so an interleaving loses nothing;
        callers hold the document's lock (:mod:`ragfleet.ingestion.locks`) so that the version
        acknowledged last is the one that stays.
        """
        generation = {c.content_hash for c in chunks}
        if len(generation) > 1:
            raise ValueError(f"the chunks of {doc_id!r} come from more than one generation")
        stale = [g for g in await self.generations(doc_id) if g not in generation]
        rows = [
            {
                "pk": chunk_key(c.doc_id, c.content_hash, c.chunk_index),
                "doc_id": c.doc_id,
                "chunk_index": c.chunk_index,
                "source": c.source,
                "category": c.category,
                "lang": c.lang,
                "year": c.year,
                "content_hash": c.content_hash,
                "text": c.text[:TEXT_MAX],
                "metadata": json.loads(json.dumps(c.metadata, default=str)),
                "embedding": [float(x) for x in c.embedding],
            }
            for c in chunks
        ]
        if rows:
            await self._call(lambda c: c.upsert(self._collection, rows, timeout=self._timeout))
        if stale:
            listed = ", ".join(map(quote, stale))
            condition = f"doc_id == {quote(doc_id)} and content_hash in [{listed}]"
            await self._call(
                lambda c: c.delete(self._collection, filter=condition, timeout=self._timeout)
            )

    async def delete_document(self, doc_id: str) -> bool:
        """Remove every chunk of ``doc_id``; True when something was removed."""
        existed = bool(await self.generations(doc_id))
        if existed:
            await self._call(
                lambda c: c.delete(
                    self._collection, filter=f"doc_id == {quote(doc_id)}", timeout=self._timeout
                )
            )
        return existed

    async def search(self, vector: Sequence[float], limit: int, expression: str) -> list[SearchHit]:
        """The ``limit`` chunks closest to ``vector`` among those matching ``expression``.

        The hits of one document come from one generation, the one of its best hit: two are
        stored only while a replacement runs or after one failed half-way, and a passage must not
        be cited twice, once per version.
        """
        results = await self._call(
            lambda c: c.search(
                self._collection,
                data=[list(vector)],
                limit=limit,
                filter=expression,
                output_fields=["doc_id", "chunk_index", "text", "source", "content_hash"],
                search_params={"metric_type": "COSINE"},
                consistency_level=READ_CONSISTENCY,
                timeout=self._timeout,
            )
        )
        hits: list[SearchHit] = []
        generation_of: dict[str, str] = {}
        for hit in results[0] if results else []:
            entity = hit["entity"]
            doc_id = str(entity["doc_id"])
            generation = str(entity["content_hash"])
            if generation_of.setdefault(doc_id, generation) != generation:
                continue
            hits.append(
                SearchHit(
                    doc_id=doc_id,
                    chunk_index=int(entity["chunk_index"]),
                    text=str(entity["text"]),
                    source=str(entity["source"]),
                    score=float(hit["distance"]),
                )
            )
        return hits

    async def count_chunks(self) -> int:
        """Number of stored chunks."""
        rows = await self._query(self._collection, "", ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    async def corpus_version(self) -> int:
        """The current corpus version (0 before the first change)."""
        rows = await self._query(
            self._meta_collection, f"key == {quote(_META_KEY_VERSION)}", ["value"]
        )
        return int(rows[0]["value"]) if rows else 0

    async def bump_corpus_version(self) -> int:
        """Move the corpus version forward and return it.

        The new value is at least the previous one plus one and at least the current Unix time in
        milliseconds, so two workers that race still move it forward and never back.
        """
        previous = await self.corpus_version()
        version = max(previous + 1, time.time_ns() // 1_000_000)
        row = {"key": _META_KEY_VERSION, "value": version, "unused": [0.0, 0.0]}
        await self._call(lambda c: c.upsert(self._meta_collection, [row], timeout=self._timeout))
        return version

    async def close(self) -> None:
        """Release the connection (and the Milvus Lite directory lock)."""
        await self.connection.close()
