"""Cache hits answered in front of Litestar, and the near cache in front of Redis: a hit costs no
Redis call, an ingest anywhere invalidates every worker's near cache, a Redis outage turns the near
cache off until Redis is back, and the hit path answers exactly as the Litestar route would,
refusing nothing differently."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from litestar.testing import AsyncTestClient

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.app import RagfleetApp, create_app
from ragfleet.cache.backends import RedisAnswerCache
from ragfleet.security.api_keys import hash_key
from tests.integration.conftest import SettingsFactory, sample_value
from tests.support.redis_server import RedisServer

DOC = {"id": "ops/cache.md", "text": "ragfleet caches answers in Redis for an hour by default."}
OTHER = {"id": "ops/gpu.md", "text": "Inference hosts run TensorRT-LLM on NVIDIA GPUs."}
QUESTION = {"query": "How long are answers cached?"}
READER, WRITER = "rf_reader-secret", "rf_writer-secret"
KEYS = f"reader:{hash_key(READER)}:query,writer:{hash_key(WRITER)}:ingest+query"
HTTP_200 = {"method": "POST", "path": "/query", "status_code": "200", "app_name": "ragfleet"}


def near_cache(client: AsyncTestClient[Any]) -> Any:
    cache = client.app.state.services.queries.cache
    assert isinstance(cache, RedisAnswerCache)
    return cache.near


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def evalsha_calls(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def ask(
    client: AsyncTestClient[Any], body: dict[str, Any] = QUESTION, **headers: str
) -> dict[str, Any]:
    response = await client.post("/query", json=body, headers=headers)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def primed(client: AsyncTestClient[Any], **headers: str) -> None:
    """Ingested, generated, and a second ask so that the near cache holds the answer."""
    await eventually(lambda: near_cache(client).following)
    await client.post("/documents", json={"documents": [DOC]}, headers=headers)
    await ask(client, **headers)
    assert (await ask(client, **headers))["cached"]


# The version follower's own Redis call (EVALSHA too) is no lookup: these tests count lookups, so
# it ticks once, at start-up.
QUIET_FOLLOWER = 3600.0


async def test_a_near_cache_hit_makes_no_redis_call(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(redis_url=redis_server.url, cache_version_check_s=QUIET_FOLLOWER)
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        calls = evalsha_calls(redis_server.url)
        answers = [await ask(client) for _ in range(3)]
    assert all(answer["cached"] for answer in answers)
    assert evalsha_calls(redis_server.url) == calls


async def test_an_ingest_on_one_instance_invalidates_the_near_cache_of_another(
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
            await primed(worker_b)
            held = near_cache(worker_b).version
            ingested = await worker_a.post("/documents", json={"documents": [OTHER]})
            version = ingested.json()["corpus_version"]
            await eventually(lambda: near_cache(worker_b).version == version, timeout_s=1.0)
            after = await ask(worker_b)
    finally:
        milvus.stop()
    assert version > held
    assert not after["cached"]


async def test_redis_dying_turns_the_near_cache_off_until_it_is_back(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(
        redis_url=redis_server.url,
        cache_retry_after_error_s=0.2,
        cache_version_check_s=QUIET_FOLLOWER,
    )
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client)
        errors = sample_value("ragfleet_cache_errors_total", operation="subscribe")

        redis_server.stop()
        await eventually(lambda: not near_cache(client).serving, timeout_s=3.0)
        during = await ask(client)
        ready_during = (await client.get("/readyz")).json()

        redis_server.start()  # empty: the answer and the version are gone
        await eventually(lambda: near_cache(client).following)
        await asyncio.sleep(0.3)  # past cache_retry_after_error_s
        await ask(client)
        await ask(client)
        calls = evalsha_calls(redis_server.url)
        resumed = await ask(client)
    assert not during["cached"]
    assert ready_during["checks"]["cache"]["status"] == "degraded"
    assert sample_value("ragfleet_cache_errors_total", operation="subscribe") > errors
    assert resumed["cached"]
    assert evalsha_calls(redis_server.url) == calls


async def test_the_hit_path_answers_as_the_litestar_route_does(
    make_settings: SettingsFactory, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(redis_url=redis_server.url))
    assert isinstance(app, RagfleetApp)
    assert app.hit_path is not None
    async with AsyncTestClient(app) as client:
        await primed(client)
        requests_before = sample_value("ragfleet_http_requests_total", **HTTP_200)
        fast = await client.post("/query", json=QUESTION, headers={"x-request-id": "fast-1"})
        hit_path, app.hit_path = app.hit_path, None
        routed = await client.post("/query", json=QUESTION, headers={"x-request-id": "slow-1"})
        app.hit_path = hit_path
        requests_after = sample_value("ragfleet_http_requests_total", **HTTP_200)
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    access = [line for line in logged if line.get("request_id") in {"fast-1", "slow-1"}]

    fast_body, routed_body = fast.json(), routed.json()
    assert fast.status_code == routed.status_code == 200
    assert list(fast_body) == list(routed_body)
    volatile = {"processing_time", "timestamp", "request_id"}
    assert {k: v for k, v in fast_body.items() if k not in volatile} == {
        k: v for k, v in routed_body.items() if k not in volatile
    }
    assert (fast_body["request_id"], routed_body["request_id"]) == ("fast-1", "slow-1")
    assert fast.headers["x-request-id"] == "fast-1"
    assert sorted(fast.headers) == sorted(routed.headers)
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert len(fast.content) == int(fast.headers["content-length"])
    assert requests_after == requests_before + 2
    assert [line["request_id"] for line in access] == ["fast-1", "slow-1"]
    assert list(access[0]) == list(access[1])
    assert {k: access[0][k] for k in ("route", "status", "cache", "passages")} == {
        k: access[1][k] for k in ("route", "status", "cache", "passages")
    }


async def test_keys_are_still_required_and_scoped_on_the_hit_path(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(redis_url=redis_server.url, api_keys=KEYS)
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client, authorization=f"Bearer {WRITER}")
        missing = await client.post("/query", json=QUESTION)
        wrong = await client.post("/query", json=QUESTION, headers={"authorization": "Bearer x"})
        allowed = await ask(client, authorization=f"Bearer {READER}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid API key"
    assert allowed["cached"]


async def test_a_key_without_the_query_scope_is_403_on_the_hit_path(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    ingest_only = "rf_ingest-only"
    keys = f"{KEYS},ingester:{hash_key(ingest_only)}:ingest"
    settings = make_settings(redis_url=redis_server.url, api_keys=keys)
    async with AsyncTestClient(create_app(settings)) as client:
        await primed(client, authorization=f"Bearer {WRITER}")
        response = await client.post(
            "/query", json=QUESTION, headers={"authorization": f"Bearer {ingest_only}"}
        )
    assert response.status_code == 403
    assert "lacks the 'query' scope" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({**QUESTION, "owner": "x"}, "unknown field", id="unknown key"),
        pytest.param({**QUESTION, "max_results": 0}, "max_results: Expected `int` >= 1", id="0"),
        pytest.param(
            {**QUESTION, "context_filter": {"owner": "x"}}, "unknown field 'owner'", id="filter"
        ),
    ],
)
async def test_bodies_the_route_refuses_get_its_400_even_when_the_question_is_cached(
    make_settings: SettingsFactory, redis_server: RedisServer, body: dict[str, Any], message: str
) -> None:
    async with AsyncTestClient(create_app(make_settings(redis_url=redis_server.url))) as client:
        await primed(client)
        response = await client.post("/query", json=body, headers={"x-request-id": "bad-1"})
        broken = await client.post(
            "/query", content=b'{"query": ', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"] == "bad-1"
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["detail"]


def test_with_a_rate_limit_every_request_goes_through_litestar(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    app = create_app(make_settings(redis_url=redis_server.url, rate_limit_per_minute=3))
    assert isinstance(app, RagfleetApp)
    assert app.hit_path is None
