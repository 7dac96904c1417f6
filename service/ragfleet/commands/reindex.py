"""``ragfleet reindex``: rebuild the vector index from the canonical document store.

Every document is chunked and embedded again with the current settings into a new chunk
collection; the alias ``RAGFLEET_MILVUS_COLLECTION`` then moves to it in one call and the old
collection is dropped. Against a Milvus server (RAGFLEET_MILVUS_URI) the service keeps answering
throughout; with Milvus Lite in a file, nobody else may hold the database (stop the service, or
run it against the ``milvus-lite server`` that ``ragfleet serve --workers N`` starts).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from loguru import logger

from ragfleet.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reindex", help="rebuild the vector index from the canonical store", description=__doc__
    )
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
        return asyncio.run(_reindex(settings, args.quiet))
    except (RagfleetError, RuntimeError) as exc:
        logger.error(str(exc))
        return 1


async def _reindex(settings: Settings, quiet: bool) -> int:
    from tqdm import tqdm

    from ragfleet.system.wiring import open_corpus

    async with open_corpus(settings) as corpus:
        with tqdm(desc="reindex", unit="doc", disable=quiet) as bar:
            report = await corpus.reindexer().run(
                on_total=lambda total: bar.reset(total=total), on_document=bar.update
            )
    logger.info(
        "{} documents ({} chunks) indexed into {} (was {}); corpus version {}",
        report.documents,
        report.chunks,
        report.collection,
        report.previous,
        report.corpus_version,
    )
    return 0
