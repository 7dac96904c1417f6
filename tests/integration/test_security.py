"""API keys with scopes, rate limits with Retry-After, CORS and the /metrics allow-list."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from ragfleet.app import create_app
from ragfleet.security.api_keys import hash_key
from tests.integration.conftest import SettingsFactory
from tests.support.redis_server import RedisServer

READER, WRITER, ADMIN = "rf_reader-secret", "rf_writer-secret", "rf_admin-secret"
KEYS = ",".join(
    [
        f"reader:{hash_key(READER)}:query",
        f"writer:{hash_key(WRITER)}:ingest",
        f"root:{hash_key(ADMIN)}:admin",
    ]
)
DOC = {"documents": [{"id": "a", "text": "Keys are stored only as sha256 hashes."}]}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
async def secured(make_settings: SettingsFactory) -> Any:
    async with AsyncTestClient(create_app(make_settings(api_keys=KEYS))) as client:
        assert (await client.post("/documents", json=DOC, headers=bearer(ADMIN))).status_code == 200
        yield client


async def test_a_request_without_a_key_is_401_with_a_bearer_challenge(secured: Any) -> None:
    response = await secured.post("/query", json={"query": "how are keys stored?"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_an_unknown_key_is_401(secured: Any) -> None:
    response = await secured.post("/query", json={"query": "x"}, headers=bearer("rf_guess"))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid API key"


async def test_a_key_without_the_scope_is_403_naming_the_scope(secured: Any) -> None:
    ingest_with_reader = await secured.post("/documents", json=DOC, headers=bearer(READER))
    query_with_writer = await secured.post("/query", json={"query": "x"}, headers=bearer(WRITER))
    assert ingest_with_reader.status_code == 403
    assert "lacks the 'ingest' scope" in ingest_with_reader.json()["detail"]
    assert query_with_writer.status_code == 403


async def test_keys_with_the_scope_are_let_in(secured: Any) -> None:
    query = await secured.post(
        "/query", json={"query": "How are keys stored?"}, headers=bearer(READER)
    )
    ingest = await secured.post("/documents", json=DOC, headers=bearer(WRITER))
    admin = await secured.delete("/documents/a", headers=bearer(ADMIN))
    assert (query.status_code, ingest.status_code, admin.status_code) == (200, 200, 200)


async def test_probes_and_the_schema_need_no_key(secured: Any) -> None:
    for path in ("/healthz", "/readyz", "/schema/openapi.json"):
        assert (await secured.get(path)).status_code == 200, path


async def test_metrics_are_refused_to_addresses_outside_the_allow_list(secured: Any) -> None:
    response = await secured.get("/metrics")  # the test client's address is not loopback
    assert response.status_code == 403
    assert "RAGFLEET_METRICS_ALLOW_FROM" in response.json()["detail"]


async def test_the_rate_limit_is_per_key_and_answers_429_with_retry_after(
    make_settings: SettingsFactory, redis_server: RedisServer
) -> None:
    settings = make_settings(api_keys=KEYS, rate_limit_per_minute=3, redis_url=redis_server.url)
    async with AsyncTestClient(create_app(settings)) as client:
        statuses = [
            (await client.get("/v1/models", headers=bearer(READER))).status_code for _ in range(4)
        ]
        limited = await client.get("/v1/models", headers=bearer(READER))
        other_key = await client.get("/v1/models", headers=bearer(ADMIN))
        probe = await client.get("/healthz")
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Retry-After" in limited.json()["detail"]
    assert other_key.status_code == 200
    assert probe.status_code == 200


async def test_cors_answers_only_allowed_origins(make_settings: SettingsFactory) -> None:
    settings = make_settings(cors_allow_origins="https://app.example.com")
    async with AsyncTestClient(create_app(settings)) as client:
        allowed = await client.get("/healthz", headers={"origin": "https://app.example.com"})
        other = await client.get("/healthz", headers={"origin": "https://evil.example.net"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in allowed.headers
    assert "access-control-allow-origin" not in other.headers


async def test_without_cors_origins_no_cors_headers_are_sent(corpus_client: Any) -> None:
    response = await corpus_client.get("/healthz", headers={"origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_the_llm_metrics_relay_shares_the_metrics_allow_list(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(llm_metrics_url="http://127.0.0.1:9/prometheus/metrics")
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/metrics/llm")  # the test client's address is not loopback
    assert response.status_code == 403
    assert "RAGFLEET_METRICS_ALLOW_FROM" in response.json()["detail"]


async def test_without_an_llm_metrics_url_there_is_no_relay(secured: Any) -> None:
    assert (await secured.get("/metrics/llm")).status_code == 404
