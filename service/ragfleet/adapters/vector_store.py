"""Milvus as the chunk store: Milvus Lite in-process by default, any Milvus server by URI.

Filterable attributes are typed scalar columns with INVERTED indexes (JSON-path filters cost
~600 ms at 20k rows in Milvus Lite). pymilvus is synchronous, so every call runs in a worker thread.
Milvus Lite in-process is not safe for concurrent use from threads, so calls to it are serialised.
Calls to a Milvus server run concurrently, each with its own deadline: every RPC carries the Milvus
timeout, and the whole call gives up a margin after it (the caller gets
:class:`VectorStoreUnavailableError`, a 503; the worker thread is abandoned to pymilvus), so a
server that hangs holds up neither other calls nor /readyz.

A second, tiny collection holds the corpus version, so every worker and host sharing a Milvus sees
the same number.

Each chunk carries its document's generation: the content hash (ingestion's fingerprint) of the
version it was cut from. Replacing a document writes the new generation before removing the old
ones, so at every moment Milvus holds a complete acknowledged version; a search that meets two
generations of one document (a replacement under way, or one that failed half-way) keeps the hits
of one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
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
# pymilvus ends each RPC at its ``timeout=`` but retries an unavailable server, with back-off of up
# to 3 s, until that timeout has passed, so a call can outlast it; a call's deadline is the timeout
# plus this margin, and the worker thread of a call that runs over is abandoned.
DEADLINE_MARGIN_S = 1.0
# Calls to a Milvus server in flight at once from one worker (one thread each).
SERVER_CONCURRENT_CALLS = 8
# Reads see every write acknowledged before them, on any worker: a collection's default (Bounded)
# may leave out the last moments' writes, so a document just ingested could not be found, or a
# corpus version just moved forward could be read back older.
READ_CONSISTENCY = "Strong"
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
        self._lite = settings.uses_milvus_lite
        self._client: Any = None
        # Milvus Lite's engine takes one writer at a time and is not safe for threads: its calls
        # are serialised. A server takes concurrent calls, each bounded by its own deadline.
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1 if self._lite else SERVER_CONCURRENT_CALLS)
        self._connecting: asyncio.Future[Any] | None = None

    @property
    def uri(self) -> str:
        """The URI handed to pymilvus (a path for Milvus Lite)."""
        if self._lite:
            return str(self._settings.milvus_lite_path)
        return self._settings.milvus_uri

    @property
    def deadline_s(self) -> float:
        """How long one call to a Milvus server may take before it fails as unavailable."""
        return self._timeout + DEADLINE_MARGIN_S

    async def _call(self, func: Callable[[Any], Any]) -> Any:
        """Run ``func(client)`` in a worker thread; every failure is VectorStoreUnavailableError."""
        if self._lite:
            return await self._call_lite(func)
        return await self._call_server(func)

    async def _call_lite(self, func: Callable[[Any], Any]) -> Any:
        try:
            return await anyio.to_thread.run_sync(
                partial(self._locked, func), limiter=self._limiter
            )
        except Exception as exc:  # pymilvus raises many types; the caller only needs "unavailable"
            raise VectorStoreUnavailableError(f"Milvus call failed: {exc}") from exc

    def _locked(self, func: Callable[[Any], Any]) -> Any:
        with self._lock:
            if self._client is None:
                self._settings.milvus_lite_path.parent.mkdir(parents=True, exist_ok=True)
                self._client = self._open_client()
            return func(self._client)

    async def _call_server(self, func: Callable[[Any], Any]) -> Any:
        """A call to a Milvus server: concurrent with the others, each within :attr:`deadline_s`.

        pymilvus bounds each RPC by its ``timeout=``, but it retries an unavailable server with
        back-off, each attempt with the whole timeout again. The deadline bounds the whole call:
        the caller gets its 503 on time, and the worker thread, abandoned, ends when pymilvus
        gives up. A call that got no answer retires its connection: the next call opens a new one
        (a half-open TCP connection never recovers by itself).
        """
        client = None
        try:
            with anyio.fail_after(self.deadline_s):
                client = await self._server_client()
                return await anyio.to_thread.run_sync(
                    func, client, abandon_on_cancel=True, limiter=self._limiter
                )
        except TimeoutError as exc:
            self._retire(client)
            raise VectorStoreUnavailableError(
                f"Milvus did not answer within {self.deadline_s:g}s"
            ) from exc
        except Exception as exc:
            if not _milvus_answered(exc):
                self._retire(client)
            raise VectorStoreUnavailableError(f"Milvus call failed: {exc}") from exc

    async def _server_client(self) -> Any:
        """The connected client; the first caller starts connecting, every caller waits for that
        connection (within its own deadline) without holding a worker thread."""
        if self._client is not None:
            return self._client
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().run_in_executor(None, self._open_client)
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, attempt: asyncio.Future[Any]) -> None:
        current = attempt is self._connecting
        if current:
            self._connecting = None
        if attempt.cancelled() or attempt.exception() is not None:
            return
        if current:
            self._client = attempt.result()
        else:  # the store was closed meanwhile
            _close_quietly(attempt.result())

    def _retire(self, client: Any) -> None:
        """Stop using a client whose call got no answer; close it once every call already on it
        has had its deadline, so a slow call does not fail the others with it."""
        if client is not None and client is self._client:
            self._client = None
            asyncio.get_running_loop().call_later(self.deadline_s, _close_quietly, client)

    def _open_client(self) -> Any:
        client = self._new_client()
        try:
            self._ensure_collections(client)
        except BaseException:
            _close_quietly(client)
            raise
        return client

    def _new_client(self) -> Any:
        """A pymilvus client for this store's Milvus (tests wrap it to inject faults).

        A dedicated connection (pymilvus shares one per address and token otherwise): closing it
        after a failure then really reconnects, and it verifies the server with this store's TLS
        options.
        """
        from pymilvus import MilvusClient

        return MilvusClient(
            uri=self.uri,
            token=self._settings.milvus_token or "",
            timeout=self._timeout,
            dedicated=True,
            **milvus_tls_options(self._settings.milvus_uri, self._tls_ca_file),
        )

    async def ensure_ready(self) -> None:
        """Connect, create the collections on first use and load them.

        Every (re)connection does this, since Milvus Lite releases collections on reopen.
        """
        await self._call(lambda client: None)

    def _ensure_collections(self, client: Any) -> None:
        from pymilvus import DataType, MilvusClient

        if not client.has_collection(self._collection, timeout=self._timeout):
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
            _create_empty_collection(client, self._collection, schema, index, self._timeout)
        if not client.has_collection(self._meta_collection, timeout=self._timeout):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("value", DataType.INT64)
            # Milvus requires a vector field in every collection; this one is never searched.
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            _create_empty_collection(client, self._meta_collection, schema, index, self._timeout)
        for name in (self._collection, self._meta_collection):
            client.load_collection(name, timeout=self._timeout)

    async def _query(
        self, collection: str, condition: str, fields: list[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Rows of ``collection`` matching ``condition``: every read but search comes here."""
        rows = await self._call(
            lambda c: c.query(
                collection,
                filter=condition,
                output_fields=fields,
                consistency_level=READ_CONSISTENCY,
                timeout=self._timeout,
                **options,
            )
        )
        return list(rows)

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
        """Release the client (and the Milvus Lite directory lock); a connection still being
        made is closed when it is."""
        self._connecting = None
        if self._client is None:
            return
        if self._lite:
            await anyio.to_thread.run_sync(
                partial(self._locked, _close_quietly), limiter=self._limiter
            )
        else:
            _close_quietly(self._client)
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


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):  # the connection is being discarded anyway
        client.close()


def _milvus_answered(exc: Exception) -> bool:
    """True when Milvus itself answered with an error (a bad expression, say): the connection is
    fine. A call that got no answer raises gRPC's error, or pymilvus' with the gRPC status or
    CONNECT_FAILED as its code."""
    from pymilvus.client.types import Status
    from pymilvus.exceptions import MilvusException

    return (
        isinstance(exc, MilvusException)
        and isinstance(exc.code, int)
        and exc.code != Status.CONNECT_FAILED
    )


def _create_empty_collection(
    client: Any, name: str, schema: Any, index: Any, timeout: float
) -> None:
    """Create a collection and its indexes without pymilvus polling for each index to finish.

    ``create_collection(index_params=...)`` sleeps 0.5 s before every index-state check: 3.5 s
    for the two collections' seven indexes, on every fresh database. An index on an empty
    collection has nothing to build: the server records it and ``load_collection`` (called next)
    waits for whatever it still needs.
    """
    client.create_collection(name, schema=schema, timeout=timeout)
    client.create_index(name, index, sync=False, timeout=timeout)
