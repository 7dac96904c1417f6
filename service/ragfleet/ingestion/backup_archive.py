"""The backup archive: ``ragfleet-backup-<UTC YYYYmmddTHHMMSSZ>.tar.gz`` and nothing else.

It holds ``documents.jsonl`` (the canonical store, one document per line: id, text, source,
metadata, content hash, stored-at), ``chunks.jsonl`` (the chunk rows with their vectors, so a
restore need not embed again: see docs/operations.md for what that saves) and ``manifest.json``
(format version, created-at, corpus version, counts, embedding model id and dimension, and the
size and sha256 of every other member).

An archive is written to a temporary file, fsynced, then renamed into place (mode 0600, in a
0700 directory), so a crash never leaves a half archive under the final name; it is read back
only after every check has passed (:func:`read_archive`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragfleet.adapters.document_store import StoredDocument
from ragfleet.adapters.vector_store import ChunkRecord
from ragfleet.errors import RagfleetError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
NAME_PATTERN = re.compile(r"ragfleet-backup-\d{8}T\d{6}Z\.tar\.gz")


class ArchiveError(RagfleetError):
    """An archive that cannot be restored: unreadable, incomplete, altered or for another model."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive says about itself."""

    created_at: str
    corpus_version: int
    documents: int
    chunks: int
    embedding_model: str
    embedding_dim: int
    members: dict[str, dict[str, Any]]
    format: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class Archive:
    """A verified archive's contents."""

    path: Path
    manifest: Manifest
    documents: list[StoredDocument]
    chunks: dict[str, list[ChunkRecord]]


def archive_name(now: datetime) -> str:
    """The file name of an archive made at ``now``."""
    return f"ragfleet-backup-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def archives_in(directory: Path) -> list[Path]:
    """The archives in ``directory``, oldest first (the names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NAME_PATTERN.fullmatch(p.name))


def encode_documents(documents: Iterable[StoredDocument]) -> bytes:
    """``documents.jsonl``: one compact JSON object per document."""
    lines = (
        json.dumps(
            {
                "id": d.id,
                "text": d.text,
                "source": d.source,
                "metadata": d.metadata,
                "content_hash": d.content_hash,
                "stored_at_ms": d.stored_at_ms,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        for d in documents
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")


def encode_chunks(chunks: Iterable[ChunkRecord]) -> bytes:
    """``chunks.jsonl``: one compact JSON object per chunk, its vector included."""
    lines = (
        json.dumps(
            {
                "doc_id": c.doc_id,
                "chunk_index": c.chunk_index,
                "text": c.text,
                "source": c.source,
                "content_hash": c.content_hash,
                "category": c.category,
                "lang": c.lang,
                "year": c.year,
                "metadata": c.metadata,
                "embedding": [float(x) for x in c.embedding],
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        for c in chunks
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")


def write_archive(
    directory: Path,
    now: datetime,
    manifest: Manifest,
    documents_jsonl: bytes,
    chunks_jsonl: bytes = b"",
) -> Path:
    """Write the archive atomically into ``directory`` (made 0700); its path.

    The manifest's ``members`` are filled in here from the bytes written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    final = directory / archive_name(now)
    if final.exists():
        raise ArchiveError(f"{final} exists already: one backup per second at most")
    members = {DOCUMENTS: _describe(documents_jsonl), CHUNKS: _describe(chunks_jsonl)}
    manifest_bytes = json.dumps(
        {**_manifest_dict(manifest), "members": members}, indent=2, sort_keys=True
    ).encode("utf-8")
    temporary = directory / f".{final.name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add(tar, MANIFEST, manifest_bytes, now)
                _add(tar, DOCUMENTS, documents_jsonl, now)
                _add(tar, CHUNKS, chunks_jsonl, now)
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_directory(directory)
    return final


def rotate(directory: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` archives; the paths removed."""
    removed = archives_in(directory)[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink()
    if removed:
        _fsync_directory(directory)
    return removed


def read_archive(path: Path, *, embedding_model: str, embedding_dim: int) -> Archive:
    """Read and check an archive completely before anyone acts on it.

    Refused (:class:`ArchiveError`, naming what is wrong): a file that is not a whole gzip'd
    tar, a member missing or unexpected, a manifest of another format, a member whose size or
    sha256 differs from the manifest's, a document line that does not parse, counts that differ,
    or another embedding model or dimension than the one configured.
    """
    members = _read_members(path)
    unexpected = sorted(set(members) - {MANIFEST, DOCUMENTS, CHUNKS})
    missing = sorted({MANIFEST, DOCUMENTS, CHUNKS} - set(members))
    if missing or unexpected:
        raise ArchiveError(f"{path}: members missing {missing}, unexpected {unexpected}")
    manifest = _parse_manifest(path, members[MANIFEST])
    for name, content in members.items():
        if name == MANIFEST:
            continue
        expected = manifest.members.get(name)
        if expected != _describe(content):
            raise ArchiveError(
                f"{path}: {name} does not match the manifest's size and sha256: the archive was"
                " altered or damaged"
            )
    documents = _parse_documents(path, members[DOCUMENTS])
    chunks = _parse_chunks(path, members[CHUNKS])
    counted = (len(documents), sum(map(len, chunks.values())))
    if counted != (manifest.documents, manifest.chunks):
        raise ArchiveError(
            f"{path}: {counted[0]} documents and {counted[1]} chunks, the manifest says"
            f" {manifest.documents} and {manifest.chunks}"
        )
    if (manifest.embedding_model, manifest.embedding_dim) != (embedding_model, embedding_dim):
        raise ArchiveError(
            f"{path} was made with the embedding model {manifest.embedding_model!r}"
            f" (dim {manifest.embedding_dim}); this service uses {embedding_model!r}"
            f" (dim {embedding_dim}): configure that model to restore it"
        )
    return Archive(path, manifest, documents, chunks)


def _read_members(path: Path) -> dict[str, bytes]:
    """Every member's bytes, after the whole gzip stream was read to its end: tarfile stops at
    the end-of-archive marker, before the gzip trailer whose CRC and length catch damage."""
    members: dict[str, bytes] = {}
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
        with tarfile.open(path, mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise ArchiveError(f"{path}: member {info.name!r} is not a regular file")
                if info.name in members:
                    raise ArchiveError(f"{path}: member {info.name!r} appears twice")
                extracted = tar.extractfile(info)
                if extracted is None:
                    raise ArchiveError(f"{path}: member {info.name!r} cannot be read")
                members[info.name] = extracted.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{path} is not a readable backup archive ({exc})") from exc
    return members


def _parse_manifest(path: Path, content: bytes) -> Manifest:
    try:
        raw = json.loads(content)
        if raw.get("format") != FORMAT_VERSION:
            raise ArchiveError(
                f"{path}: backup format {raw.get('format')!r}, this ragfleet reads {FORMAT_VERSION}"
            )
        return Manifest(
            created_at=str(raw["created_at"]),
            corpus_version=int(raw["corpus_version"]),
            documents=int(raw["counts"]["documents"]),
            chunks=int(raw["counts"]["chunks"]),
            embedding_model=str(raw["embedding"]["model"]),
            embedding_dim=int(raw["embedding"]["dim"]),
            members=dict(raw["members"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"{path}: the manifest is malformed ({exc!r})") from exc


def _parse_documents(path: Path, content: bytes) -> list[StoredDocument]:
    lines = _lines(path, DOCUMENTS, content)
    return [_parse_document(path, number, line) for number, line in enumerate(lines, start=1)]


def _parse_document(path: Path, number: int, line: str) -> StoredDocument:
    try:
        raw = json.loads(line)
        return StoredDocument(
            id=str(raw["id"]),
            text=str(raw["text"]),
            source=str(raw["source"]),
            content_hash=str(raw["content_hash"]),
            metadata=dict(raw["metadata"]),
            stored_at_ms=int(raw["stored_at_ms"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"{path}: {DOCUMENTS} line {number} is malformed ({exc!r})") from exc


def _parse_chunks(path: Path, content: bytes) -> dict[str, list[ChunkRecord]]:
    chunks: dict[str, list[ChunkRecord]] = {}
    for number, line in enumerate(_lines(path, CHUNKS, content), start=1):
        try:
            raw = json.loads(line)
            chunk = ChunkRecord(
                doc_id=str(raw["doc_id"]),
                chunk_index=int(raw["chunk_index"]),
                text=str(raw["text"]),
                source=str(raw["source"]),
                content_hash=str(raw["content_hash"]),
                embedding=[float(x) for x in raw["embedding"]],
                category=str(raw["category"]),
                lang=str(raw["lang"]),
                year=int(raw["year"]),
                metadata=dict(raw["metadata"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"{path}: {CHUNKS} line {number} is malformed ({exc!r})") from exc
        chunks.setdefault(chunk.doc_id, []).append(chunk)
    return chunks


def _lines(path: Path, name: str, content: bytes) -> list[str]:
    try:
        return content.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path}: {name} is not UTF-8 ({exc})") from exc


def _manifest_dict(manifest: Manifest) -> dict[str, Any]:
    return {
        "format": manifest.format,
        "created_at": manifest.created_at,
        "corpus_version": manifest.corpus_version,
        "counts": {"documents": manifest.documents, "chunks": manifest.chunks},
        "embedding": {"model": manifest.embedding_model, "dim": manifest.embedding_dim},
    }


def _describe(content: bytes) -> dict[str, Any]:
    return {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _add(tar: tarfile.TarFile, name: str, content: bytes, now: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(now.timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(content))


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
