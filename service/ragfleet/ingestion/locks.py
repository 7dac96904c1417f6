"""Per-document write locks: one writer at a time for each document id.

Replacing a document reads which versions are stored, writes the new one, then removes the ones it
read (:meth:`ragfleet.adapters.vector_store.MilvusVectorStore.replace_document`). Two writers of
one id that interleave those steps lose nothing, but each keeps its own version, so two versions
stay stored until the next ingest of that id. The lock makes concurrent writes of one id take turns,
so the version stored is the one acknowledged last.

- :class:`LocalDocumentLocks` — one worker's asyncio locks; enough with one worker.
- :class:`RedisDocumentLocks` — redis-py's owner-token lock (the one single-flight uses, see
  :mod:`ragfleet.cache.backends`), keyed by the document id, so workers and hosts sharing a Milvus
  take turns too. A Redis that is down does not stop ingestion: the write goes ahead under the
  worker's own lock and a warning is logged, since an interleaving loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from ragfleet.cache.backends import redis_tls_options
from ragfleet.errors import DocumentLockUnavailableError

if TYPE_CHECKING:
    from redis.asyncio.lock import Lock


class DocumentLocks(Protocol):
    """What ingestion needs: hold a document's lock for the duration of a block."""

    def hold(self, doc_id: str) -> AbstractAsyncContextManager[None]: ...
    async def close(self) -> None: ...


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LocalDocumentLocks:
    """An asyncio lock per document id being written in this worker, forgotten once unused."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def hold(self, doc_id: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(doc_id, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[doc_id]

    async def close(self) -> None:
        """Nothing to release."""


class RedisDocumentLocks:
    """A Redis lock per document id, taken after this worker's own lock for that id (so one
    worker's writers of an id wait in memory instead of polling Redis).

    ``ttl_s`` bounds how long a writer that died keeps others out; it must exceed the time a
    write takes. A writer that waits ``wait_s`` without getting the lock gets
    :class:`DocumentLockUnavailableError` (503, retry later).
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float,
        wait_s: float,
        timeout_s: float,
        prefix: str = "ragfleet:",
        tls_ca_file: str = "",
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.Redis.from_url(
            url,
            **redis_tls_options(url, tls_ca_file),
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._ttl_s = ttl_s
        self._wait_s = wait_s
        self._prefix = f"{prefix}lock:document:"
        self._local = LocalDocumentLocks()

    def key(self, doc_id: str) -> str:
        """The Redis key of ``doc_id``'s lock."""
        return self._prefix + doc_id

    @asynccontextmanager
    async def hold(self, doc_id: str) -> AsyncIterator[None]:
        async with self._local.hold(doc_id):
            lock = await self._acquire(doc_id)
            try:
                yield
            finally:
                if lock is not None:
                    await self._release(doc_id, lock)

    async def _acquire(self, doc_id: str) -> Lock | None:
        lock: Lock = self._redis.lock(
            self.key(doc_id), timeout=self._ttl_s, blocking=True, blocking_timeout=self._wait_s
        )
        try:
            acquired = await lock.acquire()
        except Exception as exc:  # redis errors, timeouts, OSError: write under the local lock
            logger.warning(
                "document lock unavailable ({!r}); writing {!r} under this worker's lock only",
                exc,
                doc_id,
            )
            return None
        if not acquired:
            raise DocumentLockUnavailableError(
                f"document {doc_id!r} was locked by another writer for {self._wait_s:g}s"
            )
        return lock

    async def _release(self, doc_id: str, lock: Lock) -> None:
        from redis.exceptions import LockError

        try:
            await lock.release()
        except LockError:
            # Expired during the write and perhaps taken by another writer: not ours to delete.
            logger.warning("the lock of document {!r} expired before the write ended", doc_id)
        except Exception as exc:  # it expires by itself
            logger.warning("could not release the lock of document {!r} ({!r})", doc_id, exc)

    async def close(self) -> None:
        await self._redis.aclose()
