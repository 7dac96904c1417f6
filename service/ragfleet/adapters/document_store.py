"""The canonical document store: every acknowledged document, whole, so the index can be rebuilt.

A collection ``<milvus_collection>_documents`` beside the chunks, in the same Milvus: on a fleet
that is the datastore's Milvus, whose data sits on its persistent volume. A document is stored
per *generation* (its content hash, ingestion's fingerprint) as one or more rows: text longer
than one VARCHAR (65,535 bytes) is cut into parts on UTF-8 character boundaries, keyed
``doc_id#content_hash#part``, each row carrying the number of ``parts``, so a generation whose
write stopped half-way is recognisable and never read. Reading a document gives its newest
complete generation (by ``stored_at``).

Ingestion writes a document's new generation here before its chunks and removes the older
generations after the chunks are switched (:mod:`ragfleet.ingestion.service`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ragfleet.adapters.milvus_connection import (
    MilvusConnection,
    create_empty_collection,
    quote,
)

# Milvus's largest VARCHAR, in bytes (a Milvus server counts bytes, Milvus Lite characters).
PART_MAX_BYTES = 65535
# The most rows one query returns from a Milvus server: the parts of one document (a 10 MiB
# request body makes at most 161) stay far below it; whole-collection reads go page by page.
QUERY_MAX_ROWS = 16384
_FIELDS = ["doc_id", "content_hash", "part", "parts", "text", "source", "metadata", "stored_at"]
_OUTLINE = ["doc_id", "content_hash", "part", "parts", "stored_at"]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One generation of a document as the canonical store keeps it."""

    id: str
    text: str
    source: str
    content_hash: str
    metadata: dict[str, Any] = field(default_factory=dict)
    stored_at_ms: int = 0


class DocumentStore(Protocol):
    """What ingestion, reindex and backup need of the canonical store."""

    async def put(self, document: StoredDocument) -> None: ...
    async def get(self, doc_id: str) -> StoredDocument | None: ...
    async def read(self, doc_id: str, content_hash: str) -> StoredDocument | None: ...
    async def has(self, doc_id: str, content_hash: str) -> bool: ...
    async def current(self, doc_id: str) -> str | None: ...
    async def discard(self, doc_id: str, content_hash: str) -> None: ...
    async def retire(self, doc_id: str, keep: str) -> None: ...
    async def delete(self, doc_id: str) -> bool: ...
    async def newest(self) -> dict[str, str]: ...
    async def count(self) -> int: ...


def split_utf8(text: str, max_bytes: int = PART_MAX_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``max_bytes`` UTF-8 bytes, never inside a character;
    one empty piece for an empty text."""
    encoded = text.encode("utf-8")
    parts: list[str] = []
    start = 0
    while start < len(encoded) or not parts:
        end = min(start + max_bytes, len(encoded))
        while end < len(encoded) and encoded[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        parts.append(encoded[start:end].decode("utf-8"))
        start = end
    return parts


def part_key(doc_id: str, content_hash: str, part: int) -> str:
    """The primary key of one part of one generation of a document."""
    return f"{doc_id}#{content_hash}#{part}"


def newest_complete(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """For each document among ``rows`` (outline rows of any number of documents), the content
    hash of its newest generation whose every part is present."""
    present: dict[tuple[str, str], set[int]] = {}
    expected: dict[tuple[str, str], int] = {}
    stored_at: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (str(row["doc_id"]), str(row["content_hash"]))
        present.setdefault(key, set()).add(int(row["part"]))
        expected[key] = int(row["parts"])
        stored_at[key] = max(stored_at.get(key, 0), int(row["stored_at"]))
    best: dict[str, tuple[int, str]] = {}
    for key, parts in present.items():
        if parts != set(range(expected[key])):
            continue
        doc_id, content_hash = key
        candidate = (stored_at[key], content_hash)
        if doc_id not in best or candidate > best[doc_id]:
            best[doc_id] = candidate
    return {doc_id: content_hash for doc_id, (_, content_hash) in best.items()}


class MilvusDocumentStore:
    """:class:`DocumentStore` in a Milvus collection, over a shared :class:`MilvusConnection`."""

    def __init__(self, connection: MilvusConnection) -> None:
        self._connection = connection
        self.collection = f"{connection.settings.milvus_collection}_documents"
        self._timeout = connection.timeout
        connection.on_connect(self._ensure_collection)

    def _ensure_collection(self, client: Any) -> None:
        from pymilvus import DataType, MilvusClient

        if not client.has_collection(self.collection, timeout=self._timeout):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=600)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
            schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("part", DataType.INT64)
            schema.add_field("parts", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=PART_MAX_BYTES)
            schema.add_field("source", DataType.VARCHAR, max_length=1024)
            schema.add_field("metadata", DataType.JSON)
            schema.add_field("stored_at", DataType.INT64)
            # Milvus requires a vector field in every collection; this one is never searched.
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            index.add_index("doc_id", index_type="INVERTED")
            create_empty_collection(client, self.collection, schema, index, self._timeout)
        client.load_collection(self.collection, timeout=self._timeout)

    async def put(self, document: StoredDocument) -> None:
        """Write one generation of a document, all its parts in one upsert."""
        stored_at = document.stored_at_ms or time.time_ns() // 1_000_000
        pieces = split_utf8(document.text)
        metadata = json.loads(json.dumps(document.metadata, default=str))
        rows = [
            {
                "pk": part_key(document.id, document.content_hash, n),
                "doc_id": document.id,
                "content_hash": document.content_hash,
                "part": n,
                "parts": len(pieces),
                "text": piece,
                "source": document.source,
                "metadata": metadata,
                "stored_at": stored_at,
                "unused": [0.0, 0.0],
            }
            for n, piece in enumerate(pieces)
        ]
        await self._connection.call(
            lambda c: c.upsert(self.collection, rows, timeout=self._timeout)
        )

    async def _outline(self, doc_id: str) -> list[dict[str, Any]]:
        return await self._connection.query(
            self.collection, f"doc_id == {quote(doc_id)}", _OUTLINE, limit=QUERY_MAX_ROWS
        )

    async def current(self, doc_id: str) -> str | None:
        """The content hash of the newest complete generation of ``doc_id``; None when none."""
        return newest_complete(await self._outline(doc_id)).get(doc_id)

    async def get(self, doc_id: str) -> StoredDocument | None:
        """The newest complete generation of ``doc_id``; None when it has none."""
        content_hash = await self.current(doc_id)
        if content_hash is None:
            return None
        return await self.read(doc_id, content_hash)

    async def read(self, doc_id: str, content_hash: str) -> StoredDocument | None:
        """One generation of ``doc_id``, or None unless every part of it is stored."""
        condition = f"doc_id == {quote(doc_id)} and content_hash == {quote(content_hash)}"
        rows = await self._connection.query(
            self.collection, condition, _FIELDS, limit=QUERY_MAX_ROWS
        )
        rows.sort(key=lambda row: int(row["part"]))
        if not rows or [int(r["part"]) for r in rows] != list(range(int(rows[0]["parts"]))):
            return None
        first = rows[0]
        return StoredDocument(
            id=doc_id,
            text="".join(str(row["text"]) for row in rows),
            source=str(first["source"]),
            content_hash=content_hash,
            metadata=dict(first["metadata"] or {}),
            stored_at_ms=int(first["stored_at"]),
        )

    async def has(self, doc_id: str, content_hash: str) -> bool:
        """True when every part of that generation of ``doc_id`` is stored."""
        return _complete(await self._outline(doc_id), doc_id, content_hash)

    async def discard(self, doc_id: str, content_hash: str) -> None:
        """Remove one generation of ``doc_id`` (a write that was not acknowledged)."""
        condition = f"doc_id == {quote(doc_id)} and content_hash == {quote(content_hash)}"
        await self._connection.call(
            lambda c: c.delete(self.collection, filter=condition, timeout=self._timeout)
        )

    async def generations(self, doc_id: str) -> set[str]:
        """The generations of ``doc_id`` with at least one part stored, complete or not."""
        return {str(row["content_hash"]) for row in await self._outline(doc_id)}

    async def retire(self, doc_id: str, keep: str) -> None:
        """Remove every generation of ``doc_id`` but ``keep`` (once its chunks are switched)."""
        stale = await self.generations(doc_id) - {keep}
        if stale:
            listed = ", ".join(map(quote, sorted(stale)))
            condition = f"doc_id == {quote(doc_id)} and content_hash in [{listed}]"
            await self._connection.call(
                lambda c: c.delete(self.collection, filter=condition, timeout=self._timeout)
            )

    async def delete(self, doc_id: str) -> bool:
        """Remove every generation of ``doc_id``; True when something was stored."""
        existed = bool(await self._outline(doc_id))
        if existed:
            await self._connection.call(
                lambda c: c.delete(
                    self.collection, filter=f"doc_id == {quote(doc_id)}", timeout=self._timeout
                )
            )
        return existed

    async def newest(self) -> dict[str, str]:
        """Every document's newest complete generation: ``{doc_id: content_hash}``."""
        return newest_complete(await self._connection.query_all(self.collection, "", _OUTLINE))

    async def count(self) -> int:
        """Number of documents with a complete generation."""
        return len(await self.newest())


def _complete(rows: Sequence[Mapping[str, Any]], doc_id: str, content_hash: str) -> bool:
    mine = [r for r in rows if r["doc_id"] == doc_id and r["content_hash"] == content_hash]
    return bool(mine) and {int(r["part"]) for r in mine} == set(range(int(mine[0]["parts"])))
