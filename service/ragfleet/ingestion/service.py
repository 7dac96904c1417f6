"""Ingestion: chunk, embed and store documents; bump the corpus version on every change.

Each document is first written whole to the canonical document store
(:mod:`ragfleet.adapters.document_store`), then as chunks to the vector store, so the index can
always be rebuilt from what was acknowledged. Re-ingesting a document id replaces both: the new
version is written before the old one is removed, under the document's lock
(:mod:`ragfleet.ingestion.locks`), so the document stays searchable throughout and concurrent
writers of one id take turns. A document whose content, source, metadata and chunking settings are
unchanged is skipped, so running ``ragfleet ingest`` twice is cheap and leaves the corpus version
(and so the answer cache) alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
from loguru import logger

from ragfleet.adapters.document_store import DocumentStore, StoredDocument
from ragfleet.adapters.embedder import Embedder
from ragfleet.adapters.vector_store import ChunkRecord, VectorStore
from ragfleet.errors import DocumentError
from ragfleet.ingestion.chunking import chunk_text
from ragfleet.ingestion.locks import DocumentLocks, LocalDocumentLocks


class DocumentInput(Protocol):
    """What ingestion needs of a document, from the API or from a file."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingestion call changed."""

    ingested: int
    unchanged: int
    chunks: int
    corpus_version: int


_TYPED_METADATA: dict[str, tuple[type, int]] = {"category": (str, 128), "lang": (str, 16)}


def metadata_size(metadata: Mapping[str, Any]) -> int:
    """Bytes of ``metadata`` as compact UTF-8 JSON, the form it is stored in with each chunk."""
    encoded = json.dumps(dict(metadata), default=str, ensure_ascii=False, separators=(",", ":"))
    return len(encoded.encode("utf-8"))


_INT64 = range(-(2**63), 2**63)


def has_int64_overflow(value: Any) -> bool:
    """True when ``value`` holds an integer Milvus's JSON field cannot store (beyond 64 bits)."""
    if isinstance(value, Mapping):
        return any(has_int64_overflow(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_int64_overflow(v) for v in value)
    return isinstance(value, int) and value not in _INT64


def typed_attributes(doc_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Pull the filterable attributes out of ``metadata``, checking their types."""
    attributes: dict[str, Any] = {"category": "", "lang": "", "year": 0}
    for key, (kind, limit) in _TYPED_METADATA.items():
        value = metadata.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or len(str(value)) > limit:
            raise DocumentError(
                f"document {doc_id!r}: metadata.{key} must be a string of at most {limit} chars"
            )
        attributes[key] = value
    year = metadata.get("year")
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, int) or not 0 < year < 10000:
            raise DocumentError(f"document {doc_id!r}: metadata.year must be an integer year")
        attributes["year"] = year
    return attributes


class IngestionService:
    """Stores documents whole in the canonical store and as embedded chunks in the vector store."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        documents: DocumentStore,
        chunk_size: int,
        chunk_overlap: int,
        metadata_max_bytes: int,
        on_change: Callable[[int], Awaitable[None]] | None = None,
        locks: DocumentLocks | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._documents = documents
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap
        self._metadata_max_bytes = metadata_max_bytes
        self._on_change = on_change
        self._locks = locks if locks is not None else LocalDocumentLocks()

    async def _changed(self) -> int:
        """Move the corpus version forward and tell whoever listens (the cache, metrics)."""
        version = await self._store.bump_corpus_version()
        if self._on_change is not None:
            await self._on_change(version)
        return version

    def fingerprint(self, document: DocumentInput) -> str:
        """A hash of everything that decides the stored chunks of a document."""
        payload = json.dumps(
            {
                "text": document.text,
                "source": document.source or document.id,
                "metadata": dict(document.metadata),
                "chunking": [self._chunk_size, self._chunk_overlap],
                "embedding": self._embedder.model_id,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    async def ingest(self, documents: Sequence[DocumentInput]) -> IngestReport:
        """Store each document unless its fingerprint is already stored.

        A batch that fails part-way still moves the corpus version forward for the documents it
        did store (so no cache keeps answering from before them), then raises.
        """
        seen: set[str] = set()
        for document in documents:
            if document.id in seen:
                raise DocumentError(f"document id {document.id!r} appears twice in one request")
            seen.add(document.id)
            self._check_metadata(document)
        ingested = unchanged = chunk_count = 0
        try:
            for document in documents:
                stored = await self._store_document(document)
                if stored is None:
                    unchanged += 1
                else:
                    ingested += 1
                    chunk_count += stored
        except BaseException:
            if ingested:
                await self._changed_after_failure()
            raise
        version = await self._changed() if ingested else await self._store.corpus_version()
        return IngestReport(ingested, unchanged, chunk_count, version)

    async def _changed_after_failure(self) -> None:
        try:
            await self._changed()
        except Exception as exc:  # the batch's own error is the one to report
            logger.warning("could not move the corpus version after a failed batch: {!r}", exc)

    def _check_metadata(self, document: DocumentInput) -> None:
        """Refuse metadata that is too large or whose filterable attributes have the wrong type."""
        size = metadata_size(document.metadata)
        if size > self._metadata_max_bytes:
            raise DocumentError(
                f"document {document.id!r}: metadata is {size} bytes as JSON, over the limit of"
                f" {self._metadata_max_bytes} bytes (RAGFLEET_METADATA_MAX_BYTES)"
            )
        if has_int64_overflow(document.metadata):
            raise DocumentError(
                f"document {document.id!r}: metadata holds an integer beyond 64 bits;"
                " send it as a string"
            )
        typed_attributes(document.id, document.metadata)

    async def _store_document(self, document: DocumentInput) -> int | None:
        fingerprint = self.fingerprint(document)
        if await self._store.content_hash(document.id) == fingerprint and await self._documents.has(
            document.id, fingerprint
        ):
            return None
        canonical = StoredDocument(
            id=document.id,
            text=document.text,
            source=document.source or document.id,
            content_hash=fingerprint,
            metadata=dict(document.metadata),
        )
        records = await self._chunk_records(canonical)
        async with self._locks.hold(document.id):
            await self.write(canonical, records, self._store)
        return len(records)

    async def _chunk_records(self, document: StoredDocument) -> list[ChunkRecord]:
        """``document`` cut into chunks and embedded, ready for the vector store."""
        chunks = chunk_text(document.text, self._chunk_size, self._chunk_overlap)
        if not chunks:
            raise DocumentError(f"document {document.id!r} has no text to index")
        vectors = await anyio.to_thread.run_sync(
            self._embedder.embed, [chunk.text for chunk in chunks]
        )
        attributes = typed_attributes(document.id, document.metadata)
        return [
            ChunkRecord(
                doc_id=document.id,
                chunk_index=chunk.index,
                text=chunk.text,
                source=document.source,
                content_hash=document.content_hash,
                embedding=vector.tolist(),
                metadata=dict(document.metadata),
                **attributes,
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]

    async def write(
        self, document: StoredDocument, records: Sequence[ChunkRecord], store: VectorStore
    ) -> None:
        """Write the canonical generation, then the chunks, then retire older generations; the
        caller holds the document's lock.

        A generation that was not already stored and whose chunks failed is removed again, so
        the canonical store keeps reading the version acknowledged before (if that removal fails
        too, the unacknowledged version stays readable until the document is written again).
        """
        already = await self._documents.has(document.id, document.content_hash)
        if not already:
            await self._documents.put(document)
        try:
            await store.replace_document(document.id, records)
        except BaseException:
            if not already:
                with contextlib.suppress(Exception):  # the write's own error is reported
                    await self._documents.discard(document.id, document.content_hash)
            raise
        await self._documents.retire(document.id, keep=document.content_hash)

    async def reindex(
        self,
        document: StoredDocument,
        store: VectorStore,
        prepared: Sequence[ChunkRecord] | None = None,
    ) -> tuple[str, int] | None:
        """Write ``document``, read from the canonical store, into ``store`` (a new chunk
        collection), chunked and embedded with the current settings; returns the generation
        written and its chunk count, or None when the document changed since it was read (the
        caller copies the newer one).

        With other chunking or another embedding model the fingerprint changes: the canonical
        store then gets the document under the new one, so both stores keep naming one
        generation. ``prepared``: the document's chunks with their vectors (from a backup),
        written as they are when they are that whole generation, instead of embedding again.
        """
        current = StoredDocument(
            id=document.id,
            text=document.text,
            source=document.source,
            content_hash=self.fingerprint(document),
            metadata=document.metadata,
            stored_at_ms=document.stored_at_ms,
        )
        if prepared and _whole_generation(prepared, current.content_hash):
            records = list(prepared)
        else:
            records = await self._chunk_records(current)
        async with self._locks.hold(document.id):
            if await self._documents.current(document.id) != document.content_hash:
                return None
            if current.content_hash == document.content_hash:
                await store.replace_document(document.id, records)
            else:
                await self.write(current, records, store)
        return current.content_hash, len(records)

    async def remove_deleted(self, doc_id: str, store: VectorStore) -> bool:
        """Remove ``doc_id``'s chunks from ``store`` unless the canonical store has it again;
        True when it was removed."""
        async with self._locks.hold(doc_id):
            if await self._documents.current(doc_id) is not None:
                return False
            await store.delete_document(doc_id)
        return True

    async def delete(self, doc_id: str) -> int | None:
        """Remove a document; returns the new corpus version, or None if it was not stored."""
        async with self._locks.hold(doc_id):
            # The canonical record first: a reindex running meanwhile then drops the document
            # from the index it builds instead of bringing it back.
            had_record = await self._documents.delete(doc_id)
            deleted = await self._store.delete_document(doc_id) or had_record
        if not deleted:
            return None
        return await self._changed()


def _whole_generation(chunks: Sequence[ChunkRecord], content_hash: str) -> bool:
    """True when ``chunks`` are every chunk of the generation ``content_hash``, each once."""
    indexes = sorted(chunk.chunk_index for chunk in chunks)
    return indexes == list(range(len(chunks))) and all(
        chunk.content_hash == content_hash for chunk in chunks
    )
