"""The recovery drill: ingest the sample corpus, back up, wipe, restore, ask the same questions.

Everything through the real CLI in subprocesses (``ragfleet ingest``, ``backup``, ``restore``)
on the embedded defaults in a temporary RAGFLEET_DATA_DIR; answers are compared by their
retrieved sources (no generation). Damaged archives are refused before anything is touched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import pytest

from ragfleet.settings import Settings, StoreSettings
from ragfleet.system.wiring import open_corpus

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "How does ragfleet keep Milvus Lite usable with several workers?",
    "Which alerts fire when a backup is too old?",
    "How are API keys checked?",
    "What does the answer cache key contain?",
    "How is a GPU host provisioned with Terraform?",
]


@dataclass(frozen=True)
class BackedUp:
    data_dir: Path
    backups: Path
    archive: Path
    textfile_dir: Path
    sources: list[list[str]]
    documents: int


def _cli(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGFLEET_")}
    env |= {"PYTHONPATH": str(REPO / "service"), "RAGFLEET_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "ragfleet", *map(str, args)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )


async def _state(data_dir: Path) -> tuple[list[list[str]], int, int]:
    """The sources each question retrieves, the canonical store's size, the corpus version."""
    async with open_corpus(Settings(store=StoreSettings(data_dir=data_dir))) as corpus:
        vectors = corpus.embedder.embed(QUESTIONS)
        sources = [
            [hit.doc_id for hit in await corpus.chunks.search(vector.tolist(), 5, "")]
            for vector in vectors
        ]
        return sources, await corpus.documents.count(), await corpus.chunks.corpus_version()


@pytest.fixture(scope="module")
async def backed_up(tmp_path_factory: pytest.TempPathFactory) -> BackedUp:
    """The sample corpus ingested and backed up once for the module (tests work on copies)."""
    root = tmp_path_factory.mktemp("drill")
    data_dir, backups, textfile_dir = root / "data", root / "backups", root / "textfile"
    textfile_dir.mkdir()
    ingested = await anyio.to_thread.run_sync(
        lambda: _cli(data_dir, "ingest", "README.md", "docs", "--quiet")
    )
    assert ingested.returncode == 0, ingested.stderr
    sources, documents, _ = await _state(data_dir)
    done = await anyio.to_thread.run_sync(
        lambda: _cli(data_dir, "backup", backups, "--textfile-dir", textfile_dir)
    )
    assert done.returncode == 0, done.stderr
    [archive] = backups.iterdir()
    return BackedUp(data_dir, backups, archive, textfile_dir, sources, documents)


def _copy(backed_up: BackedUp, tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(backed_up.data_dir, data_dir)
    return data_dir


async def test_a_wiped_data_directory_restored_from_a_backup_answers_with_the_same_sources(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    data_dir = _copy(backed_up, tmp_path)
    shutil.rmtree(data_dir)
    started = time.monotonic()
    restored = await anyio.to_thread.run_sync(
        lambda: _cli(data_dir, "restore", "--latest", backed_up.backups, "--quiet")
    )
    took = time.monotonic() - started
    assert restored.returncode == 0, restored.stderr
    sources, documents, version = await _state(data_dir)
    assert sources == backed_up.sources
    assert documents == backed_up.documents
    assert version > 0
    print(f"\nrestore of the sample corpus ({documents} documents): {took:.1f} s")


def test_the_archive_is_private_and_recorded_for_node_exporter(backed_up: BackedUp) -> None:
    assert backed_up.archive.name.startswith("ragfleet-backup-")
    assert backed_up.archive.stat().st_mode & 0o777 == 0o600
    assert backed_up.backups.stat().st_mode & 0o777 == 0o700
    metrics = (backed_up.textfile_dir / "ragfleet_backup.prom").read_text()
    assert 'ragfleet_backup_last_success_timestamp_seconds{backup="ragfleet"} ' in metrics
    size = f'ragfleet_backup_size_bytes{{backup="ragfleet"}} {backed_up.archive.stat().st_size}\n'
    assert size in metrics
    assert list(backed_up.textfile_dir.iterdir()) == [
        backed_up.textfile_dir / "ragfleet_backup.prom"
    ]


def _flip_bytes(content: bytes) -> bytes:
    middle = len(content) // 2
    return (
        content[:middle]
        + bytes(b ^ 0xFF for b in content[middle : middle + 16])
        + content[middle + 16 :]
    )


def _truncate(content: bytes) -> bytes:
    return content[: len(content) // 2]


def _alter_a_document(content: bytes) -> bytes:
    """A whole, valid gzip'd tar whose documents.jsonl no longer matches the manifest."""
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tar:
        for info in tar:
            extracted = tar.extractfile(info)
            assert extracted is not None
            data = extracted.read()
            if info.name == "documents.jsonl":
                data = data.replace(b"ragfleet", b"ragfleeT", 1)
                info.size = len(data)
            members.append((info, data))
    out = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=out, mode="wb") as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip_bytes, "not a readable backup archive"),
        (_truncate, "not a readable backup archive"),
        (_alter_a_document, "does not match the manifest"),
    ],
    ids=["flipped-bytes", "truncated", "altered-document"],
)
async def test_a_damaged_archive_is_refused_and_nothing_is_touched(
    backed_up: BackedUp, tmp_path: Path, damage: object, message: str
) -> None:
    data_dir = _copy(backed_up, tmp_path)
    before = await _state(data_dir)
    damaged = tmp_path / backed_up.archive.name
    damaged.write_bytes(damage(backed_up.archive.read_bytes()))  # type: ignore[operator]
    refused = await anyio.to_thread.run_sync(lambda: _cli(data_dir, "restore", damaged))
    assert refused.returncode == 1
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert await _state(data_dir) == before


async def test_a_dry_run_says_what_it_would_restore_and_changes_nothing(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    data_dir = _copy(backed_up, tmp_path)
    before = await _state(data_dir)
    dry = await anyio.to_thread.run_sync(
        lambda: _cli(data_dir, "restore", "--latest", backed_up.backups, "--dry-run")
    )
    assert dry.returncode == 0, dry.stderr
    assert f"would restore {backed_up.archive}: {backed_up.documents} documents" in dry.stdout
    assert await _state(data_dir) == before


def _rewrite(content: bytes, edit_chunks: object) -> bytes:
    """The archive with chunks.jsonl edited and the manifest's checksums made to match: an
    archive ragfleet could have written."""
    members: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tar:
        for info in tar:
            extracted = tar.extractfile(info)
            assert extracted is not None
            members[info.name] = (info, extracted.read())
    info, chunks = members["chunks.jsonl"]
    chunks = edit_chunks(chunks)  # type: ignore[operator]
    members["chunks.jsonl"] = (info, chunks)
    info, raw = members["manifest.json"]
    manifest = json.loads(raw)
    manifest["members"]["chunks.jsonl"] = {
        "bytes": len(chunks),
        "sha256": hashlib.sha256(chunks).hexdigest(),
    }
    members["manifest.json"] = (info, json.dumps(manifest).encode())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members.values():
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def test_a_restore_writes_the_archived_chunks_instead_of_embedding_again(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    """Every archived chunk's text is marked: the restored index serves the marked texts."""

    def mark(chunks: bytes) -> bytes:
        rows = [json.loads(line) for line in chunks.decode().splitlines()]
        for row in rows:
            row["text"] = "[archived] " + row["text"]
        return "".join(json.dumps(row) + "\n" for row in rows).encode()

    marked = tmp_path / "backups" / backed_up.archive.name
    marked.parent.mkdir()
    marked.write_bytes(_rewrite(backed_up.archive.read_bytes(), mark))
    data_dir = tmp_path / "data"
    restored = await anyio.to_thread.run_sync(lambda: _cli(data_dir, "restore", marked, "--quiet"))
    assert restored.returncode == 0, restored.stderr
    async with open_corpus(Settings(store=StoreSettings(data_dir=data_dir))) as corpus:
        [vector] = corpus.embedder.embed(QUESTIONS[:1])
        hits = await corpus.chunks.search(vector.tolist(), 5, "")
    assert hits
    assert all(hit.text.startswith("[archived] ") for hit in hits)
