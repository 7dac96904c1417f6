"""``ragfleet ingest PATH...``: index .md/.txt/.html files straight into the vector store.

Runs without the HTTP service. With Milvus Lite this needs the database to itself, so run it
before ``ragfleet serve`` (as ``make run`` does) or send documents to ``POST /documents`` instead.
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
        "ingest", help="index files into the vector store", description=__doc__
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or directories")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path.cwd(),
        help="document ids are paths relative to this directory (default: current directory)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ragfleet.observability.logging import configure_logging

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.logging.log_level, json_lines=False)
    try:
        return asyncio.run(_ingest(settings, args.paths, args.root.resolve(), args.quiet))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        logger.error(str(exc))
        return 1


async def _ingest(settings: Settings, paths: list[Path], root: Path, quiet: bool) -> int:
    from tqdm import tqdm

    from ragfleet.ingestion.loaders import iter_files, load_file
    from ragfleet.system.wiring import open_corpus

    files = list(iter_files(p.resolve() for p in paths))
    if not files:
        logger.error("no .md, .txt or .html files under {}", " ".join(map(str, paths)))
        return 1
    ingested = unchanged = chunks = 0
    version = 0
    async with open_corpus(settings) as corpus:
        for path in tqdm(files, desc="ingest", unit="file", disable=quiet):
            report = await corpus.ingestion.ingest([load_file(path, root)])
            ingested += report.ingested
            unchanged += report.unchanged
            chunks += report.chunks
            version = report.corpus_version
    logger.info(
        "{} files: {} ingested ({} chunks), {} unchanged; corpus version {}",
        len(files),
        ingested,
        chunks,
        unchanged,
        version,
    )
    return 0
