"""The backup archive's format: written privately and atomically, rotated by age, and read back
only when every check passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ragfleet.adapters.document_store import StoredDocument
from ragfleet.adapters.vector_store import ChunkRecord
from ragfleet.ingestion.backup_archive import (
    ArchiveError,
    Manifest,
    archives_in,
    encode_chunks,
    encode_documents,
    read_archive,
    rotate,
    write_archive,
)

NOW = datetime(2026, 12, 2, 18, 30, 5, tzinfo=UTC)
DOCUMENTS = [
    StoredDocument("a.md", "Texte complet — élève.", "a.md", "h1", {"lang": "fr"}, 1),
    StoredDocument("b.md", "Second document.", "wiki/b", "h2", {}, 2),
]
CHUNKS = [
    ChunkRecord("a.md", 0, "Texte complet", "a.md", "h1", [0.25, -1.0], lang="fr"),
    ChunkRecord("a.md", 1, "— élève.", "a.md", "h1", [0.5, 0.125], lang="fr"),
    ChunkRecord("b.md", 0, "Second document.", "wiki/b", "h2", [1.0, 0.0], year=2026),
]


def _write(directory: Path, now: datetime = NOW, model: str = "minilm") -> Path:
    manifest = Manifest(NOW.isoformat(), 7, len(DOCUMENTS), len(CHUNKS), model, 384, {})
    return write_archive(
        directory, now, manifest, encode_documents(DOCUMENTS), encode_chunks(CHUNKS)
    )


def test_an_archive_is_named_by_its_utc_time_and_private(tmp_path: Path) -> None:
    path = _write(tmp_path / "backups")
    assert path.name == "ragfleet-backup-20261202T183005Z.tar.gz"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_an_archive_reads_back_its_documents_chunks_and_manifest(tmp_path: Path) -> None:
    archive = read_archive(_write(tmp_path), embedding_model="minilm", embedding_dim=384)
    assert archive.documents == DOCUMENTS
    assert archive.chunks == {"a.md": CHUNKS[:2], "b.md": CHUNKS[2:]}
    assert (archive.manifest.corpus_version, archive.manifest.chunks) == (7, 3)
    assert set(archive.manifest.members) == {"documents.jsonl", "chunks.jsonl"}


def test_an_archive_of_another_embedding_model_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, model="another-model")
    with pytest.raises(ArchiveError, match="another-model"):
        read_archive(path, embedding_model="minilm", embedding_dim=384)


def test_a_second_backup_in_the_same_second_does_not_overwrite_the_first(tmp_path: Path) -> None:
    first = _write(tmp_path)
    with pytest.raises(ArchiveError, match="exists already"):
        _write(tmp_path)
    assert read_archive(first, embedding_model="minilm", embedding_dim=384)


def test_rotation_keeps_the_newest_archives_and_nothing_else_is_touched(tmp_path: Path) -> None:
    made = [_write(tmp_path, NOW + timedelta(days=n)) for n in range(4)]
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("kept")
    removed = rotate(tmp_path, keep=2)
    assert removed == made[:2]
    assert archives_in(tmp_path) == made[2:]
    assert unrelated.exists()
