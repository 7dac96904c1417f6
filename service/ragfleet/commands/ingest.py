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
    from ragfleet.logging_setup import configure_logging

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.log_level, json_lines=False)
    try:
        return asyncio.run(_ingest(settings, args.paths, args.root.resolve(), args.quiet))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        logger.error(str(exc))
        return 1


async def _ingest(settings: Settings, paths: list[Path], root: Path, quiet: bool) -> int:
    from tqdm import tqdm

    from ragfleet.adapters.embedder import OnnxEmbedder
    from ragfleet.adapters.vector_store import MilvusVectorStore, VectorStoreUnavailableError
    from ragfleet.ingestion.loaders import iter_files, load_file
    from ragfleet.ingestion.service import IngestionService

    files = list(iter_files(p.resolve() for p in paths))
    if not files:
        logger.error("no .md, .txt or .html files under {}", " ".join(map(str, paths)))
        return 1
    embedder = OnnxEmbedder.from_settings(settings)
    store = MilvusVectorStore(settings, embedder.dim)
    service = IngestionService(
        store, embedder, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
    )
    try:
        await store.ensure_ready()
    except VectorStoreUnavailableError as exc:
        raise RuntimeError(
            f"cannot open the vector store at {store.uri}: {exc.__cause__!r}. With Milvus Lite,"
            " stop `ragfleet serve` first or ingest through POST /documents."
        ) from exc
    ingested = unchanged = chunks = 0
    version = 0
    try:
        for path in tqdm(files, desc="ingest", unit="file", disable=quiet):
            report = await service.ingest([load_file(path, root)])
            ingested += report.ingested
            unchanged += report.unchanged
            chunks += report.chunks
            version = report.corpus_version
    finally:
        await store.close()
    logger.info(
        "{} files: {} ingested ({} chunks), {} unchanged; corpus version {}",
        len(files),
        ingested,
        chunks,
        unchanged,
        version,
    )
    return 0
