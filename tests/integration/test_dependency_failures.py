"""A dependency that is down or slow gives 503/504 with a usable message, never a 500."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from ragfleet.app import create_app
from tests.integration.conftest import SettingsFactory

DOC = {"id": "d", "text": "TensorRT-LLM serves the model on GPU hosts."}


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A loopback server that accepts connections and never answers: a hung LLM server."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    yield port
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_stopped_llm_server_gives_503_with_retry_after(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(llm_base_url=f"http://127.0.0.1:{_closed_port()}")
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.post("/documents", json={"documents": [DOC]})).status_code == 200
        response = await client.post("/query", json={"query": "Who serves the model?"})
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"] == "the LLM server is unavailable; retry later"
    assert "127.0.0.1" not in response.text  # no connection details leak
    assert ready.status_code == 503
    assert ready.json()["checks"]["llm"]["status"] == "down"
    assert ready.json()["checks"]["vector_store"]["status"] == "ok"


async def test_an_llm_server_that_hangs_gives_504(
    make_settings: SettingsFactory, silent_server: int
) -> None:
    settings = make_settings(
        llm_base_url=f"http://127.0.0.1:{silent_server}", llm_model="any", llm_timeout_s=0.5
    )
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post("/documents", json={"documents": [DOC]})
        response = await client.post("/query", json={"query": "Who serves the model?"})
    assert response.status_code == 504
    assert "did not answer in time" in response.json()["detail"]


async def test_an_unreachable_milvus_server_gives_503(make_settings: SettingsFactory) -> None:
    settings = make_settings(milvus_uri=f"http://127.0.0.1:{_closed_port()}", milvus_timeout_s=1.0)
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.post("/query", json={"query": "anything"})
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["detail"] == "the vector store is unavailable; retry later"
    assert ready.status_code == 503
    assert ready.json()["checks"]["vector_store"]["status"] == "down"
    assert health.status_code == 200


async def test_errors_are_logged_with_the_request_id_and_traceback(
    make_settings: SettingsFactory,
) -> None:
    from loguru import logger

    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append(m.record), level="WARNING")
    try:
        settings = make_settings(llm_base_url=f"http://127.0.0.1:{_closed_port()}")
        async with AsyncTestClient(create_app(settings)) as client:
            await client.post("/documents", json={"documents": [DOC]})
            response = await client.post(
                "/query", json={"query": "Who?"}, headers={"x-request-id": "req-503"}
            )
    finally:
        logger.remove(sink)
    assert response.status_code == 503
    logged = [r for r in records if r["extra"].get("request_id") == "req-503"]
    assert any(r["exception"] is not None for r in logged)
