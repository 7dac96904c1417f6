"""``ragfleet restore (ARCHIVE | --latest DIR)``: put a backup back.

The archive is checked completely first (every member against the manifest's sha256, every
document line, the embedding model against the configured one); a damaged, truncated or foreign
archive is refused with exit code 1 and nothing is touched. Then the canonical store is made to
hold exactly the archive's documents and a fresh chunk collection is built from them behind the
alias (as ``ragfleet reindex`` does), which moves the corpus version forward so every cached
answer is invalidated. ``--dry-run`` checks the archive and says what it would restore.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from loguru import logger

from ragfleet.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "restore", help="restore a backup made by ragfleet backup", description=__doc__
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("archive", nargs="?", type=Path, metavar="ARCHIVE", help="an archive")
    source.add_argument("--latest", type=Path, metavar="DIR", help="the newest archive in DIR")
    parser.add_argument("--dry-run", action="store_true", help="check and report; change nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ragfleet.errors import RagfleetError
    from ragfleet.observability.logging import configure_logging

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.logging.log_level, json_lines=False)
    try:
        return asyncio.run(_restore(settings, args))
    except (RagfleetError, RuntimeError, OSError) as exc:
        logger.error(str(exc))
        return 1


def _archive_path(args: argparse.Namespace) -> Path | None:
    from ragfleet.ingestion.backup_archive import archives_in

    if args.archive is not None:
        return Path(args.archive)
    found = archives_in(args.latest)
    if not found:
        logger.error("no ragfleet-backup-*.tar.gz in {}", args.latest)
        return None
    return found[-1]


async def _restore(settings: Settings, args: argparse.Namespace) -> int:
    import anyio.to_thread
    from tqdm import tqdm

    from ragfleet.adapters.embedder import OnnxEmbedder
    from ragfleet.ingestion.backup import restore
    from ragfleet.ingestion.backup_archive import read_archive
    from ragfleet.system.wiring import open_corpus

    path = _archive_path(args)
    if path is None:
        return 1
    embedder = await anyio.to_thread.run_sync(OnnxEmbedder.from_settings, settings.models)
    archive = read_archive(path, embedding_model=embedder.model_id, embedding_dim=embedder.dim)
    manifest = archive.manifest
    summary = (
        f"{path}: {manifest.documents} documents ({manifest.chunks} chunks when backed up),"
        f" made {manifest.created_at} at corpus version {manifest.corpus_version},"
        f" embedding model {manifest.embedding_model}"
    )
    if args.dry_run:
        print(f"would restore {summary}; the corpus would hold exactly these documents")
        return 0
    async with open_corpus(settings) as corpus:
        with tqdm(desc="restore", unit="doc", disable=args.quiet) as bar:
            report = await restore(
                archive,
                corpus.documents,
                corpus.reindexer(),
                on_total=lambda total: bar.reset(total=total),
                on_document=bar.update,
            )
    logger.info(
        "restored {}; {} chunks in {}; corpus version {}",
        summary,
        report.chunks,
        report.collection,
        report.corpus_version,
    )
    return 0
