"""Keeps the answer cache's corpus version in step with the vector store, which owns it.

Answers are cached under a corpus version. Redis keeps a copy of it (each worker's near cache one
more), moved forward when this service ingests or deletes. A change made anywhere else — ``ragfleet
ingest``, a restore, an ingest whose message to Redis failed while Redis was down — would leave
those copies behind and old answers would be served until their TTL. Every ``interval_s`` the
follower reads the version from the store and hands it to the cache's ``set_version``, which only
moves forward: so a worker stops serving answers of an older corpus at most one interval plus two
reads after the store changed (docs/cache.md, "Corpus version", derives the bound).

It hands over the version it read on every tick, not only a newer one: Redis may have fallen
behind without this worker seeing anything new (restarted from an old snapshot, or down when the
version moved). A failed read never reaches a query: it is counted, logged once per outage, and
tried again at the next tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from loguru import logger

from ragfleet.cache.backends import AnswerCache, VersionSource
from ragfleet.observability.metrics import CORPUS_VERSION, CORPUS_VERSION_READ_ERRORS


class VersionFollower:
    """Reads the corpus version every ``interval_s`` and moves ``cache`` forward to it."""

    def __init__(self, read_version: VersionSource, cache: AnswerCache, *, interval_s: float):
        self._read_version = read_version
        self._cache = cache
        self._interval_s = interval_s
        self._version: int | None = None
        self._failing = False

    @property
    def version(self) -> int | None:
        """The newest version read from the store (None before the first read succeeded)."""
        return self._version

    async def check(self) -> None:
        """One tick: read the version and hand it to the cache; never raises."""
        try:
            version = await self._read_version()
            await self._cache.set_version(version)
        except Exception as exc:  # the store (or anything else) failed: retry next tick
            CORPUS_VERSION_READ_ERRORS.inc()
            if not self._failing:
                logger.warning(
                    "cannot read the corpus version ({!r}); the cache keeps {} until it can",
                    exc,
                    self._version,
                )
            self._failing = True
            return
        if self._failing:
            logger.info("corpus version readable again: {}", version)
            self._failing = False
        if self._version is None or version > self._version:
            self._version = version
            CORPUS_VERSION.set(version)

    async def _follow(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._interval_s)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[VersionFollower]:
        """Follow the version for the block's duration; the first read starts at once."""
        task = asyncio.create_task(self._follow(), name="corpus-version-follower")
        try:
            yield self
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
