"""Writers of one document take turns, in one worker and across workers sharing a real Redis; a
Redis that is down does not stop ingestion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from ragfleet.app import create_app
from ragfleet.errors import DocumentLockUnavailableError
from ragfleet.ingestion.locks import DocumentLocks, LocalDocumentLocks, RedisDocumentLocks
from tests.integration.conftest import SettingsFactory
from tests.support.redis_server import RedisServer


async def _write(locks: DocumentLocks, doc_id: str, log: list[str], name: str) -> None:
    async with locks.hold(doc_id):
        log.append(f"{name} starts")
        await asyncio.sleep(0.05)
        log.append(f"{name} ends")


def _redis_locks(server: RedisServer, **overrides: float) -> RedisDocumentLocks:
    options: dict[str, float] = {"ttl_s": 10, "wait_s": 10, "timeout_s": 1}
    options.update(overrides)
    return RedisDocumentLocks(server.url, **options)


async def test_writers_of_one_document_in_one_worker_take_turns() -> None:
    locks, log = LocalDocumentLocks(), []
    await asyncio.gather(_write(locks, "doc", log, "a"), _write(locks, "doc", log, "b"))
    assert log == ["a starts", "a ends", "b starts", "b ends"]


async def test_writers_of_different_documents_do_not_wait_for_each_other() -> None:
    locks, log = LocalDocumentLocks(), []
    await asyncio.gather(_write(locks, "one", log, "a"), _write(locks, "two", log, "b"))
    assert log == ["a starts", "b starts", "a ends", "b ends"]


async def test_workers_sharing_redis_take_turns_on_one_document(
    redis_server: RedisServer,
) -> None:
    worker_a, worker_b = _redis_locks(redis_server), _redis_locks(redis_server)
    log: list[str] = []
    try:
        await asyncio.gather(
            _write(worker_a, "doc", log, "a"),
            _write(worker_b, "doc", log, "b"),
            _write(worker_b, "other", log, "c"),
        )
    finally:
        await worker_a.close()
        await worker_b.close()
    assert log.index("a ends") < log.index("b starts") or log.index("b ends") < log.index(
        "a starts"
    )
    assert log.index("c starts") < max(log.index("a ends"), log.index("b ends"))


async def test_the_lock_of_a_writer_that_died_expires(redis_server: RedisServer) -> None:
    locks = _redis_locks(redis_server)
    raw: Any = aioredis.Redis.from_url(redis_server.url)
    try:
        await raw.set(locks.key("doc"), "a worker that was killed", px=500)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with locks.hold("doc"):
            waited = loop.time() - started
    finally:
        await raw.aclose()
        await locks.close()
    assert 0.3 < waited < 3


async def test_a_writer_kept_out_too_long_is_told_to_retry(redis_server: RedisServer) -> None:
    holder, impatient = _redis_locks(redis_server), _redis_locks(redis_server, wait_s=0.3)
    try:
        async with holder.hold("doc"):
            with pytest.raises(DocumentLockUnavailableError, match="'doc'"):
                async with impatient.hold("doc"):
                    pass
    finally:
        await holder.close()
        await impatient.close()


async def test_a_redis_that_is_down_does_not_stop_writes(redis_server: RedisServer) -> None:
    from loguru import logger

    locks = _redis_locks(redis_server, timeout_s=0.2)
    redis_server.stop()
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        log: list[str] = []
        await _write(locks, "doc", log, "a")
    finally:
        logger.remove(sink)
        await locks.close()
    assert log == ["a starts", "a ends"]
    assert any("document lock unavailable" in w for w in warnings)


async def test_an_ingest_waits_while_another_worker_writes_the_document(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    """The other worker's lock is set in Redis directly: the test client runs the app to
    completion on each request, so a lock held by this test's own loop could not be released."""
    locks = _redis_locks(redis_server)
    raw: Any = aioredis.Redis.from_url(redis_server.url)
    document = {"id": "notes/locked.md", "text": "Written while another worker held the lock."}
    try:
        async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
            await raw.set(locks.key("notes/locked.md"), "another worker", px=1500)
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await client.post("/documents", json={"documents": [document]})
            waited = loop.time() - started
        left = await raw.exists(locks.key("notes/locked.md"))
    finally:
        await raw.aclose()
        await locks.close()
    assert response.status_code == 200, response.text
    assert response.json()["ingested"] == 1
    assert waited > 1.0
    assert not left
