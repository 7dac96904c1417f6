"""Online backup and restore of the canonical store (:mod:`ragfleet.ingestion.backup_archive`).

A backup reads every document's newest complete generation while the service keeps serving and
writing: each document is read whole, but documents written during the backup may or may not be
in it. The chunk rows are archived with their vectors: a restore makes the
canonical store hold exactly the archive's documents, then rebuilds the chunk collection behind
the alias from them (:class:`ragfleet.ingestion.reindex.Reindexer`), taking each document's
archived chunks instead of embedding it again when they are of the generation the current
settings would make; it moves the corpus version forward so every cached answer is invalidated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ragfleet.adapters.document_store import MilvusDocumentStore, StoredDocument
from ragfleet.adapters.vector_store import ChunkRecord, MilvusVectorStore
from ragfleet.ingestion.backup_archive import (
    Archive,
    Manifest,
    encode_chunks,
    encode_documents,
    write_archive,
)
from ragfleet.ingestion.reindex import Reindexer, ReindexReport


@dataclass(frozen=True, slots=True)
class BackupReport:
    """The archive written and what it holds."""

    path: Path
    documents: int
    size_bytes: int


async def back_up(
    documents: MilvusDocumentStore,
    chunks: MilvusVectorStore,
    directory: Path,
    *,
    now: datetime,
    embedding_model: str,
    embedding_dim: int,
) -> BackupReport:
    """Write an archive of the canonical store into ``directory``."""
    version = await chunks.corpus_version()
    rows = await chunks.connection.query_all(chunks.collection, "", _CHUNK_FIELDS)
    stored: list[StoredDocument] = []
    for doc_id, content_hash in sorted((await documents.newest()).items()):
        document = await documents.read(doc_id, content_hash)
        if document is None:  # replaced meanwhile: take the newer one
            document = await documents.get(doc_id)
        if document is not None:
            stored.append(document)
    manifest = Manifest(
        created_at=now.isoformat(),
        corpus_version=version,
        documents=len(stored),
        chunks=len(rows),
        embedding_model=embedding_model,
        embedding_dim=embedding_dim,
        members={},
    )
    records = sorted(map(_chunk_record, rows), key=lambda c: (c.doc_id, c.chunk_index))
    path = write_archive(directory, now, manifest, encode_documents(stored), encode_chunks(records))
    return BackupReport(path, len(stored), path.stat().st_size)


async def restore(
    archive: Archive,
    documents: MilvusDocumentStore,
    reindexer: Reindexer,
    on_total: Callable[[int], None] = lambda total: None,
    on_document: Callable[[], None] = lambda: None,
) -> ReindexReport:
    """Make the canonical store hold exactly ``archive``'s documents and rebuild the index."""
    wanted = {document.id: document for document in archive.documents}
    for document in archive.documents:
        if not await documents.has(document.id, document.content_hash):
            await documents.put(document)
        await documents.retire(document.id, keep=document.content_hash)
    for doc_id in set(await documents.newest()) - set(wanted):
        await documents.delete(doc_id)
    return await reindexer.run(on_total, on_document, keep_unknown=False, prepared=archive.chunks)


_CHUNK_FIELDS = [
    "doc_id",
    "chunk_index",
    "text",
    "source",
    "content_hash",
    "category",
    "lang",
    "year",
    "metadata",
    "embedding",
]


def _chunk_record(row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(
        doc_id=str(row["doc_id"]),
        chunk_index=int(row["chunk_index"]),
        text=str(row["text"]),
        source=str(row["source"]),
        content_hash=str(row["content_hash"]),
        embedding=[float(x) for x in row["embedding"]],
        category=str(row["category"]),
        lang=str(row["lang"]),
        year=int(row["year"]),
        metadata=dict(row["metadata"] or {}),
    )
