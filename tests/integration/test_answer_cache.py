"""The answer cache with a real Redis: hits skip the LLM, corpus changes invalidate, Redis outages
never fail a query, and identical concurrent misses generate once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis
from litestar.testing import AsyncTestClient

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.app import create_app
from tests.integration.conftest import SettingsFactory, sample_value
from tests.support.redis_server import RedisServer

DOC = {"id": "ops/cache.md", "text": "ragfleet caches answers in Redis for an hour by default."}
OTHER = {"id": "ops/gpu.md", "text": "Inference hosts run TensorRT-LLM on NVIDIA GPUs."}
QUESTION = {"query": "How long are answers cached?"}


def llm_calls() -> float:
    return sample_value("ragfleet_llm_requests_total", outcome="ok")


async def _ask(client: AsyncTestClient[Any], body: dict[str, Any] = QUESTION) -> dict[str, Any]:
    response = await client.post("/query", json=body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def test_a_hit_returns_the_same_answer_without_calling_the_llm(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
        await client.post("/documents", json={"documents": [DOC]})
        first = await _ask(client)
        calls = llm_calls()
        second = await _ask(client, {"query": "  how LONG are answers   cached? "})
    assert not first["cached"]
    assert second["cached"]
    assert llm_calls() == calls
    assert second["answer"] == first["answer"]
    assert second["sources"] == first["sources"]


async def test_values_in_redis_are_json_under_a_versioned_sha256_key(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
        version = (await client.post("/documents", json={"documents": [DOC]})).json()
        await _ask(client)
    plain = redis.Redis.from_url(redis_server.url)
    keys = [k.decode() for k in plain.keys("ragfleet:answer:*")]
    assert len(keys) == 1
    prefix, corpus_version, digest = keys[0].rsplit(":", 2)
    assert prefix == "ragfleet:answer"
    assert int(corpus_version) == version["corpus_version"]
    assert len(digest) == 64
    stored = json.loads(plain.get(keys[0]) or b"")
    assert stored["passages"][0][0] == "ops/cache.md"
    assert 0 < plain.ttl(keys[0]) <= 3600


async def test_ingest_and_delete_make_cached_answers_unreachable(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
        await client.post("/documents", json={"documents": [DOC]})
        await _ask(client)
        assert (await _ask(client))["cached"]
        await client.post("/documents", json={"documents": [OTHER]})
        after_ingest = await _ask(client)
        assert (await _ask(client))["cached"]
        await client.delete("/documents/ops/gpu.md")
        after_delete = await _ask(client)
    assert not after_ingest["cached"]
    assert not after_delete["cached"]


async def test_queries_survive_redis_dying_and_hits_resume_when_it_returns(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(redis_url=redis_server.url, cache_retry_after_error_s=0.2)
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post("/documents", json={"documents": [DOC]})
        await _ask(client)
        errors_before = sample_value("ragfleet_cache_errors_total", operation="lookup")

        redis_server.stop()
        during = [await _ask(client) for _ in range(3)]
        ready_during = await client.get("/readyz")

        redis_server.start()
        await asyncio.sleep(0.3)  # past cache_retry_after_error_s: the next call tries Redis again
        await _ask(client)
        resumed = await _ask(client)
        ready_after = await client.get("/readyz")
    assert all(not answer["cached"] for answer in during)
    assert sample_value("ragfleet_cache_errors_total", operation="lookup") > errors_before
    assert ready_during.status_code == 200
    assert ready_during.json()["checks"]["cache"]["status"] == "degraded"
    assert resumed["cached"]
    assert ready_after.json()["checks"]["cache"]["status"] == "ok"


async def test_identical_concurrent_misses_generate_once(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
        await client.post("/documents", json={"documents": [DOC]})
        calls = llm_calls()
        answers = await asyncio.gather(*(_ask(client) for _ in range(5)))
    assert llm_calls() == calls + 1
    assert len({a["answer"] for a in answers}) == 1
    assert sum(not a["cached"] for a in answers) == 1


async def test_single_flight_holds_across_workers_sharing_redis(
    make_settings: SettingsFactory, redis_server: RedisServer, tmp_path: Any
) -> None:
    milvus = MilvusLiteServer(tmp_path / "shared-milvus.db")
    milvus.start()
    try:
        settings = make_settings(redis_url=redis_server.url, milvus_uri=milvus.uri)
        async with (
            AsyncTestClient(create_app(settings)) as worker_a,
            AsyncTestClient(create_app(settings)) as worker_b,
        ):
            await worker_a.post("/documents", json={"documents": [DOC]})
            calls = llm_calls()
            answers = await asyncio.gather(
                *(_ask(worker) for worker in (worker_a, worker_b, worker_a, worker_b))
            )
            from_b_later = await _ask(worker_b)
    finally:
        milvus.stop()
    assert llm_calls() == calls + 1
    assert len({a["answer"] for a in answers}) == 1
    assert from_b_later["cached"]


async def test_without_redis_an_in_process_cache_still_serves_hits(
    make_settings: SettingsFactory,
) -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        await client.post("/documents", json={"documents": [DOC]})
        await _ask(client)
        calls = llm_calls()
        again = await _ask(client)
    assert again["cached"]
    assert llm_calls() == calls


async def test_the_cache_can_be_switched_off(make_settings: SettingsFactory) -> None:
    async with AsyncTestClient(create_app(make_settings(cache_enabled=False))) as client:
        await client.post("/documents", json={"documents": [DOC]})
        await _ask(client)
        again = await _ask(client)
        ready = (await client.get("/readyz")).json()
    assert not again["cached"]
    assert "cache" not in ready["checks"]
