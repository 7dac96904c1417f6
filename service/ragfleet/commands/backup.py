"""``ragfleet backup DEST_DIR``: an online, logical backup of the canonical document store.

Writes ``ragfleet-backup-<UTC YYYYmmddTHHMMSSZ>.tar.gz`` (documents.jsonl and manifest.json, mode
0600) into DEST_DIR (made 0700) and keeps the newest ``--keep`` archives. Milvus keeps running:
against a Milvus server (RAGFLEET_MILVUS_URI) the service keeps serving; a Milvus Lite file must
not be held by another process. ``--textfile-dir`` records the success for node_exporter's
textfile collector (the BackupTooOld and BackupMetricAbsent alerts watch it).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from loguru import logger

from ragfleet.settings import Settings, SettingsError

TEXTFILE_NAME = "ragfleet_backup.prom"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backup", help="back up the canonical document store", description=__doc__
    )
    parser.add_argument("dest_dir", type=Path, metavar="DEST_DIR", help="where archives are kept")
    parser.add_argument(
        "--keep", type=int, default=7, help="archives kept in DEST_DIR, newest first (default 7)"
    )
    parser.add_argument(
        "--textfile-dir",
        type=Path,
        help="node_exporter's textfile directory: write " + TEXTFILE_NAME + " there on success",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ragfleet.errors import RagfleetError
    from ragfleet.observability.logging import configure_logging

    if args.keep < 1:
        logger.error("--keep must be at least 1")
        return 2
    if args.textfile_dir is not None and not args.textfile_dir.is_dir():
        logger.error("--textfile-dir {} is not a directory", args.textfile_dir)
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.logging.log_level, json_lines=False)
    try:
        return asyncio.run(_backup(settings, args.dest_dir, args.keep, args.textfile_dir))
    except (RagfleetError, RuntimeError, OSError) as exc:
        logger.error(str(exc))
        return 1


async def _backup(settings: Settings, directory: Path, keep: int, textfile_dir: Path | None) -> int:
    from datetime import UTC, datetime

    from ragfleet.ingestion.backup import back_up
    from ragfleet.ingestion.backup_archive import rotate
    from ragfleet.observability.textfile import write_textfile
    from ragfleet.system.wiring import open_corpus

    async with open_corpus(settings) as corpus:
        report = await back_up(
            corpus.documents,
            corpus.chunks,
            directory,
            now=datetime.now(UTC),
            embedding_model=corpus.embedder.model_id,
            embedding_dim=corpus.embedder.dim,
        )
    for removed in rotate(directory, keep):
        logger.info("removed {} (keeping the newest {})", removed.name, keep)
    if textfile_dir is not None:
        label = 'backup="ragfleet"'
        write_textfile(
            textfile_dir,
            TEXTFILE_NAME,
            [
                (
                    "ragfleet_backup_last_success_timestamp_seconds",
                    "Unix time of the last successful backup.",
                    label,
                    report.path.stat().st_mtime,
                ),
                (
                    "ragfleet_backup_size_bytes",
                    "Size of the last successful backup archive.",
                    label,
                    float(report.size_bytes),
                ),
            ],
        )
    logger.info("{}: {} documents, {} bytes", report.path, report.documents, report.size_bytes)
    return 0
