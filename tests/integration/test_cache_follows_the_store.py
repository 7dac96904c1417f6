"""The answer cache follows the corpus version in Milvus, not only the service's own ingests: a
change made by ``ragfleet ingest``, by another tool, or while Redis was down stops being answered
from the cache (Redis, the near cache, the in-process cache) within RAGFLEET_CACHE_VERSION_CHECK_S
plus the reads; a Milvus that cannot be read never fails a query and the following resumes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import redis
from litestar.testing import AsyncTestClient
from loguru import logger

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.adapters.vector_store import DEADLINE_MARGIN_S
from ragfleet.app import create_app
from ragfleet.cache.backends import RedisAnswerCache
from ragfleet.ingestion.loaders import LoadedDocument
from ragfleet.settings import Settings
from ragfleet.system.wiring import open_corpus
from tests.integration.conftest import REPO, SettingsFactory, sample_value
from tests.support.redis_server import RedisServer
from tests.support.stalled_network import StallingProxy

DOC = {"id": "ops/cache.md", "text": "ragfleet caches answers in Redis for an hour by default."}
QUESTION = {"query": "How long are answers cached?"}
LATER = LoadedDocument("ops/ttl.md", "Cached answers now live for ten minutes.", "ops/ttl.md")
VERSION_KEY = "ragfleet:corpus_version"
INTERVAL_S = 0.2
# Generous: the bound is one interval plus two reads of the version and one Redis call.
DEADLINE_S = 10 * INTERVAL_S


async def ask(client: AsyncTestClient[Any]) -> dict[str, Any]:
    response = await client.post("/query", json=QUESTION)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def primed(client: AsyncTestClient[Any]) -> None:
    """DOC ingested through the service and the question answered once, so the next is a hit."""
    ingested = await client.post("/documents", json={"documents": [DOC]})
    assert ingested.status_code == 200, ingested.text
    await ask(client)
    assert (await ask(client))["cached"]


async def missed_within(client: AsyncTestClient[Any], deadline_s: float) -> dict[str, Any]:
    """Ask until the answer does not come from the cache; fail after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        answer = await ask(client)
        if not answer["cached"]:
            return answer
        assert time.monotonic() < deadline, f"still a cached answer {deadline_s}s after the change"
        await asyncio.sleep(INTERVAL_S / 10)


async def eventually(condition: Any, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {deadline_s}s"
        await asyncio.sleep(INTERVAL_S / 10)


async def ingest_elsewhere(settings: Settings) -> int:
    """Ingest LATER as ``ragfleet ingest`` does: its own connection to Milvus, no answer cache."""
    async with open_corpus(settings) as corpus:
        report = await corpus.ingestion.ingest([LATER])
    assert report.ingested == 1
    return report.corpus_version


def redis_version(server: RedisServer) -> int:
    return int(redis.Redis.from_url(server.url).get(VERSION_KEY) or -1)


async def test_an_ingest_from_the_cli_makes_the_next_query_after_the_bound_a_miss(
    make_settings: SettingsFactory,
    redis_server: RedisServer,
    milvus_server: MilvusLiteServer,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        redis_url=redis_server.url,
        milvus_uri=milvus_server.uri,
        cache_version_check_s=INTERVAL_S,
        cache_max_entries=0,  # no near cache: every hit is Redis's
    )
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ttl.md").write_text("Cached answers now live for ten minutes.")
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        before = redis_version(redis_server)
        command = [sys.executable, "-m", "ragfleet", "ingest", str(notes), "--root", str(tmp_path)]
        with anyio.fail_after(120):
            cli = await anyio.run_process(
                [*command, "--quiet"],
                env={
                    **os.environ,
                    "PYTHONPATH": str(REPO / "service"),
                    "RAGFLEET_DATA_DIR": str(tmp_path / "cli"),
                    "RAGFLEET_MILVUS_URI": milvus_server.uri,
                },
                check=False,
            )
        assert cli.returncode == 0, cli.stderr
        after = await missed_within(client, DEADLINE_S)
        again = await ask(client)
    assert redis_version(redis_server) > before
    assert not after["cached"]
    assert again["cached"]  # Redis serves the new version's answer


async def test_a_change_made_while_redis_was_down_is_applied_when_it_returns_with_the_old_version(
    make_settings: SettingsFactory, redis_server: RedisServer, milvus_server: MilvusLiteServer
) -> None:
    settings = make_settings(
        redis_url=redis_server.url,
        milvus_uri=milvus_server.uri,
        cache_version_check_s=INTERVAL_S,
        cache_retry_after_error_s=INTERVAL_S,
    )
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        plain = redis.Redis.from_url(redis_server.url)
        old = {key: plain.get(key) for key in [*plain.keys("ragfleet:answer:*"), VERSION_KEY]}
        assert all(old.values())
        redis_server.stop()
        new_version = await ingest_elsewhere(make_settings(milvus_uri=milvus_server.uri))
        await eventually(
            lambda: sample_value("ragfleet_corpus_version") == new_version,
            DEADLINE_S,
            "the worker reading the new version",
        )
        redis_server.start()  # back, holding the old version and its answer (an old snapshot)
        revived = redis.Redis.from_url(redis_server.url)
        for key, value in old.items():
            revived.set(key, value, ex=3600)
        await eventually(
            lambda: redis_version(redis_server) == new_version,
            DEADLINE_S + INTERVAL_S,
            "Redis moved forward",
        )
        after = await ask(client)
        again = await ask(client)
    assert not after["cached"]
    assert again["cached"]


async def test_a_redis_behind_the_version_the_worker_knows_is_a_miss_and_is_moved_forward(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(
        redis_url=redis_server.url,
        cache_version_check_s=3600.0,  # one read, at start-up: the lookup alone must refuse
        cache_max_entries=0,
    )
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        plain = redis.Redis.from_url(redis_server.url)
        current = redis_version(redis_server)
        [answer_key] = plain.keys("ragfleet:answer:*")
        # Redis rolled back to an old snapshot: an older version, the answer stored under it.
        older = current - 1
        plain.set(VERSION_KEY, older)
        plain.rename(answer_key, answer_key.replace(str(current).encode(), str(older).encode()))
        after = await ask(client)
    assert not after["cached"]
    assert redis_version(redis_server) == current


async def test_the_near_cache_drops_an_answer_of_a_version_moved_outside_the_service(
    make_settings: SettingsFactory, redis_server: RedisServer, milvus_server: MilvusLiteServer
) -> None:
    settings = make_settings(
        redis_url=redis_server.url, milvus_uri=milvus_server.uri, cache_version_check_s=INTERVAL_S
    )
    async with AsyncTestClient(create_app(settings)) as client:
        cache = client.app.state.services.queries.cache
        assert isinstance(cache, RedisAnswerCache)
        await eventually(lambda: cache.near.following, DEADLINE_S, "the subscription")
        await primed(client)
        assert len(cache.near) == 1  # the answer is in this worker's memory
        new_version = await ingest_elsewhere(make_settings(milvus_uri=milvus_server.uri))
        after = await missed_within(client, DEADLINE_S)
        held = cache.near.version
    assert not after["cached"]
    assert held == new_version


async def test_the_in_process_cache_follows_a_change_made_by_another_process(
    make_settings: SettingsFactory, milvus_server: MilvusLiteServer
) -> None:
    settings = make_settings(milvus_uri=milvus_server.uri, cache_version_check_s=INTERVAL_S)
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        await ingest_elsewhere(settings)
        after = await missed_within(client, DEADLINE_S)
    assert not after["cached"]


async def test_hits_keep_being_served_while_milvus_cannot_be_read_and_following_resumes_after(
    make_settings: SettingsFactory, redis_server: RedisServer, milvus_server: MilvusLiteServer
) -> None:
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        with StallingProxy(milvus_server.port) as proxy:
            settings = make_settings(
                redis_url=redis_server.url,
                milvus_uri=f"http://127.0.0.1:{proxy.port}",
                milvus_timeout_s=0.5,
                cache_version_check_s=INTERVAL_S,
            )
            async with AsyncTestClient(create_app(settings)) as client:
                await primed(client)
                errors = sample_value("ragfleet_corpus_version_read_errors_total")
                proxy.stall()  # a partition: this worker's calls to Milvus get no answer
                await eventually(
                    lambda: sample_value("ragfleet_corpus_version_read_errors_total") > errors + 1,
                    30.0,  # each failed read waits out the Milvus deadline
                    "failed version reads",
                )
                during = [await ask(client) for _ in range(3)]
                # Changed from the other side of the partition; seen once this worker reads again.
                await ingest_elsewhere(make_settings(milvus_uri=milvus_server.uri))
                proxy.resume()
                # The read in flight may wait out its deadline before the next one reconnects.
                deadline_s = DEADLINE_S + settings.store.milvus_timeout_s + DEADLINE_MARGIN_S
                after = await missed_within(client, deadline_s)
    finally:
        logger.remove(sink)
    assert all(answer["cached"] for answer in during)
    assert not after["cached"]
    assert sum("cannot read the corpus version" in line for line in warnings) == 1
