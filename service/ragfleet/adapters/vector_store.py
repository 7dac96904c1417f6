"""Milvus as the chunk store: Milvus Lite in-process by default, any Milvus server by URI.

Filterable attributes are typed scalar columns with INVERTED indexes (JSON-path filters cost
~600 ms at 20k rows in Milvus Lite). pymilvus is synchronous, so every call runs in a worker thread;
Milvus Lite is not safe for concurrent use from threads, so calls to it are serialised.

A second, tiny collection holds the corpus version, so every worker and host sharing a Milvus sees
the same number.

Each chunk carries its document's generation: the content hash (ingestion's fingerprint) of the
version it was cut from. Replacing a document writes the new generation before removing the old
ones, so at every moment Milvus holds a complete acknowledged version; a search that meets two
generations of one document (a replacement under way, or one that failed half-way) keeps the hits
of one of them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlparse

import anyio
import anyio.to_thread

from ragfleet.domain import FILTERABLE_FIELDS, SearchHit
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.settings import StoreSettings

TEXT_MAX = 8192
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


def quote(value: str) -> str:
    """A Milvus string literal for a value this module controls (ids from our own requests)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def chunk_key(doc_id: str, content_hash: str, chunk_index: int) -> str:
    """The primary key of one chunk of one generation of a document.

    Deterministic, so writing a generation again (a client retrying after a gateway timeout, two
    workers racing) overwrites the same rows instead of adding copies; distinct per generation, so
    a new version never overwrites the chunks of the one it replaces.
    """
    return f"{doc_id}#{content_hash}#{chunk_index}"


class MilvusVectorStore:
    """:class:`VectorStore` on pymilvus' ``MilvusClient``."""

    def __init__(self, settings: StoreSettings, dim: int, *, tls_ca_file: str = "") -> None:
        self._settings = settings
        self._tls_ca_file = tls_ca_file
        self._dim = dim
        self._collection = settings.milvus_collection
        self._meta_collection = f"{settings.milvus_collection}_meta"
        self._timeout = settings.milvus_timeout_s
        self._client: Any = None
        self._lock = threading.Lock()
        # Milvus Lite: one call at a time; a server takes concurrent calls.
        self._limiter = anyio.CapacityLimiter(1 if settings.uses_milvus_lite else 8)

    @property
    def uri(self) -> str:
        """The URI handed to pymilvus (a path for Milvus Lite)."""
        if self._settings.uses_milvus_lite:
            return str(self._settings.milvus_lite_path)
        return self._settings.milvus_uri

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(
                partial(self._locked, func, *args, **kwargs), limiter=self._limiter
            )
        except VectorStoreUnavailableError:
            raise
        except Exception as exc:  # pymilvus raises many types; the caller only needs "unavailable"
            raise VectorStoreUnavailableError(f"Milvus call failed: {exc}") from exc

    def _locked(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._client is None:
                self._connect()
            try:
                return func(self._client, *args, **kwargs)
            except Exception:
                if not self._settings.uses_milvus_lite:
                    self._drop_client()  # reconnect on the next call: the server may be back
                raise

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        with contextlib.suppress(Exception):  # the connection is being discarded anyway
            client.close()

    def _connect(self) -> None:
        if self._settings.uses_milvus_lite:
            self._settings.milvus_lite_path.parent.mkdir(parents=True, exist_ok=True)
        self._client = self._new_client()
        try:
            self._ensure_collections(self._client)
        except Exception:
            self._drop_client()
            raise

    def _new_client(self) -> Any:
        """A pymilvus client for this store's Milvus (tests wrap it to inject faults)."""
        from pymilvus import MilvusClient

        return MilvusClient(
            uri=self.uri,
            token=self._settings.milvus_token or "",
            timeout=self._timeout,
            **milvus_tls_options(self._settings.milvus_uri, self._tls_ca_file),
        )

    async def ensure_ready(self) -> None:
        """Connect, create the collections on first use and load them.

        Every (re)connection does this, since Milvus Lite releases collections on reopen.
        """
        await self._call(lambda client: None)

    def _ensure_collections(self, client: Any) -> None:
        from pymilvus import DataType, MilvusClient

        if not client.has_collection(self._collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=600)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
            schema.add_field("chunk_index", DataType.INT64)
            schema.add_field("source", DataType.VARCHAR, max_length=1024)
            schema.add_field("category", DataType.VARCHAR, max_length=128)
            schema.add_field("lang", DataType.VARCHAR, max_length=16)
            schema.add_field("year", DataType.INT64)
            schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
            schema.add_field("metadata", DataType.JSON)
            schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=self._dim)
            index = client.prepare_index_params()
            index.add_index("embedding", index_type="FLAT", metric_type="COSINE")
            for name in FILTERABLE_FIELDS:
                index.add_index(name, index_type="INVERTED")
            _create_empty_collection(client, self._collection, schema, index)
        if not client.has_collection(self._meta_collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("value", DataType.INT64)
            # Milvus requires a vector field in every collection; this one is never searched.
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            _create_empty_collection(client, self._meta_collection, schema, index)
        for name in (self._collection, self._meta_collection):
            client.load_collection(name)

    async def ping(self) -> None:
        """Raise :class:`VectorStoreUnavailableError` unless the chunk collection answers."""
        await self._call(lambda c: c.get_load_state(self._collection))

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
            rows = await self._call(
                lambda c, condition=condition: c.query(
                    self._collection, filter=condition, output_fields=["content_hash"], limit=1
                )
            )
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
            await self._call(lambda c: c.upsert(self._collection, rows))
        if stale:
            listed = ", ".join(map(quote, stale))
            condition = f"doc_id == {quote(doc_id)} and content_hash in [{listed}]"
            await self._call(lambda c: c.delete(self._collection, filter=condition))

    async def delete_document(self, doc_id: str) -> bool:
        """Remove every chunk of ``doc_id``; True when something was removed."""
        existed = bool(await self.generations(doc_id))
        if existed:
            await self._call(
                lambda c: c.delete(self._collection, filter=f"doc_id == {quote(doc_id)}")
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
        rows = await self._call(
            lambda c: c.query(self._collection, filter="", output_fields=["count(*)"])
        )
        return int(rows[0]["count(*)"]) if rows else 0

    async def corpus_version(self) -> int:
        """The current corpus version (0 before the first change)."""
        rows = await self._call(
            lambda c: c.query(
                self._meta_collection,
                filter=f"key == {quote(_META_KEY_VERSION)}",
                output_fields=["value"],
            )
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
        await self._call(lambda c: c.upsert(self._meta_collection, [row]))
        return version

    async def close(self) -> None:
        """Release the client (and the Milvus Lite directory lock)."""

        def close(client: Any) -> None:
            client.close()

        if self._client is not None:
            await anyio.to_thread.run_sync(partial(self._locked, close), limiter=self._limiter)
            self._client = None


def milvus_tls_options(uri: str, ca_file: str) -> dict[str, Any]:
    """pymilvus' one-way TLS arguments for an ``https://`` Milvus URI, else none.

    pymilvus turns ``https://`` into a TLS channel itself; ``server_pem_path`` is the root
    certificate it verifies the server with (the fleet CA, RAGFLEET_TLS_CA_FILE; without it, the
    system's roots) and ``server_name`` the name the certificate must carry (the URI's host).
    """
    parsed = urlparse(uri)
    if parsed.scheme != "https":
        return {}
    options: dict[str, Any] = {"secure": True, "server_name": parsed.hostname or ""}
    if ca_file:
        options["server_pem_path"] = ca_file
    return options


def _create_empty_collection(client: Any, name: str, schema: Any, index: Any) -> None:
    """Create a collection and its indexes without pymilvus polling for each index to finish.

    ``create_collection(index_params=...)`` sleeps 0.5 s before every index-state check: 3.5 s
    for the two collections' seven indexes, on every fresh database. An index on an empty
    collection has nothing to build: the server records it and ``load_collection`` (called next)
    waits for whatever it still needs.
    """
    client.create_collection(name, schema=schema)
    client.create_index(name, index, sync=False)
