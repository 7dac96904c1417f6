"""Calls to a Milvus server run concurrently, each with its own deadline: a Milvus that hangs gives
503s on time, and a hung call holds up neither the other calls nor /readyz.

The hangs are real: a loopback server that accepts and never answers, a proxy in front of the Milvus
Lite server sidecar that stops forwarding, and (for one call among others that proceed) a call held
in the store's pymilvus client, in front of the real sidecar.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from litestar.testing import AsyncTestClient

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.adapters.vector_store import DEADLINE_MARGIN_S, ChunkRecord, MilvusVectorStore
from ragfleet.app import create_app
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.settings import StoreSettings
from ragfleet.system.readiness import PROBE_TIMEOUT_S
from tests.integration.conftest import SettingsFactory
from tests.support.faulty_milvus import FaultyStore
from tests.support.stalled_network import SilentServer, StallingProxy

DIM = 4
TIMEOUT_S = 1.0
# Scheduling noise on a loaded 2-core machine, on top of a deadline.
SLACK_S = 0.75
NEAR = [1.0, 0.0, 0.0, 0.0]
CHUNK = ChunkRecord(
    doc_id="doc", chunk_index=0, text="Stored.", source="doc", content_hash="h", embedding=NEAR
)


def _settings(tmp_path: Path, uri: str, timeout_s: float = TIMEOUT_S) -> StoreSettings:
    return StoreSettings(data_dir=tmp_path / "data", milvus_uri=uri, milvus_timeout_s=timeout_s)


async def _each_fails(*calls: Any) -> list[float]:
    """Run the calls at once; each must fail as unavailable. Seconds each took, from the start."""
    started = time.monotonic()

    async def failing(call: Any) -> float:
        with pytest.raises(VectorStoreUnavailableError):
            await call
        return time.monotonic() - started

    return list(await asyncio.gather(*(failing(call) for call in calls)))


@pytest.fixture
async def proxied(
    milvus_server: MilvusLiteServer, tmp_path: Path
) -> AsyncIterator[tuple[MilvusVectorStore, StallingProxy]]:
    """A store connected to the sidecar through a proxy, with one chunk stored."""
    with StallingProxy(milvus_server.port) as proxy:
        store = MilvusVectorStore(_settings(tmp_path, f"http://127.0.0.1:{proxy.port}"), dim=DIM)
        try:
            await store.replace_document("doc", [CHUNK])
            yield store, proxy
        finally:
            proxy.resume()
            await store.close()


async def test_calls_to_a_milvus_that_never_answers_each_fail_within_the_deadline(
    tmp_path: Path,
) -> None:
    with SilentServer() as silent:
        store = MilvusVectorStore(_settings(tmp_path, f"http://127.0.0.1:{silent.port}"), dim=DIM)
        try:
            took = await _each_fails(store.ping(), *(store.search(NEAR, 1, "") for _ in range(3)))
        finally:
            await store.close()
    assert max(took) < store.deadline_s + SLACK_S, took


async def test_calls_on_a_connection_that_stalls_fail_within_the_deadline_and_it_recovers(
    proxied: tuple[MilvusVectorStore, StallingProxy],
) -> None:
    store, proxy = proxied
    proxy.stall()
    took = await _each_fails(store.ping(), *(store.search(NEAR, 1, "") for _ in range(3)))
    assert max(took) < store.deadline_s + SLACK_S, took
    proxy.resume()
    assert [hit.doc_id for hit in await store.search(NEAR, 1, "")] == ["doc"]


async def test_a_hung_call_holds_up_neither_searches_nor_the_ping(
    milvus_server: MilvusLiteServer, tmp_path: Path
) -> None:
    store = FaultyStore(_settings(tmp_path, milvus_server.uri), dim=DIM)
    try:
        await store.replace_document("doc", [CHUNK])
        store.faults.hold("delete")
        hung = asyncio.create_task(store.delete_document("doc"))
        assert await anyio.to_thread.run_sync(store.faults.held.wait, 10)
        started = time.monotonic()
        hits = await asyncio.gather(*(store.search(NEAR, 1, "") for _ in range(4)))
        await store.ping()
        others_took = time.monotonic() - started
        with pytest.raises(VectorStoreUnavailableError, match="did not answer within"):
            await hung
        hung_took = time.monotonic() - started
    finally:
        store.faults.released.set()
        await store.close()
    assert [[hit.doc_id for hit in found] for found in hits] == [["doc"]] * 4
    assert others_took < 1.0
    assert hung_took < store.deadline_s + SLACK_S


async def test_readyz_answers_503_on_time_while_milvus_hangs(
    make_settings: SettingsFactory,
) -> None:
    """The Milvus timeout is longer than the probe's: /readyz must not wait for it."""
    with SilentServer() as silent:
        settings = make_settings(milvus_uri=f"http://127.0.0.1:{silent.port}", milvus_timeout_s=4)
        async with AsyncTestClient(create_app(settings)) as client:
            started = time.monotonic()
            ready = await client.get("/readyz")
            took = time.monotonic() - started
            health = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["vector_store"]["status"] == "down"
    assert took < PROBE_TIMEOUT_S + SLACK_S, took
    assert health.status_code == 200


async def test_a_query_while_milvus_hangs_is_a_503_with_retry_after(
    make_settings: SettingsFactory, milvus_server: MilvusLiteServer
) -> None:
    with StallingProxy(milvus_server.port) as proxy:
        settings = make_settings(
            milvus_uri=f"http://127.0.0.1:{proxy.port}", milvus_timeout_s=TIMEOUT_S
        )
        async with AsyncTestClient(create_app(settings)) as client:
            stored = await client.post("/documents", json={"documents": [{"id": "d", "text": "x"}]})
            proxy.stall()
            started = time.monotonic()
            response = await client.post("/query", json={"query": "anything"})
            took = time.monotonic() - started
            proxy.resume()
    assert stored.status_code == 200
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"] == "the vector store is unavailable; retry later"
    assert took < TIMEOUT_S + DEADLINE_MARGIN_S + SLACK_S + 0.5, took  # embedding the question
