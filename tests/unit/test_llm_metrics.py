"""/metrics/llm relays the LLM server's Prometheus text as it is, and says 503 when it cannot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ragfleet.adapters.free_port import free_loopback_port
from ragfleet.api.llm_metrics import llm_metrics_controller

TEXT = b'# TYPE trtllm_kv_cache_utilization gauge\ntrtllm_kv_cache_utilization{model="m"} 0.25\n'


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/prometheus/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(TEXT)))
        self.end_headers()
        self.wfile.write(TEXT)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _admit_all(*_: Any) -> None:
    return None


def _app(url: str) -> Litestar:
    return Litestar([llm_metrics_controller(url, _admit_all)])


async def test_the_llm_servers_metrics_come_back_unchanged(upstream: str) -> None:
    async with AsyncTestClient(_app(f"{upstream}/prometheus/metrics")) as client:
        response = await client.get("/metrics/llm")
    assert response.status_code == 200
    assert response.content == TEXT
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_an_llm_server_without_metrics_is_503(upstream: str) -> None:
    async with AsyncTestClient(_app(f"{upstream}/metrics")) as client:
        response = await client.get("/metrics/llm")
    assert response.status_code == 503
    assert "answered 404" in response.text


async def test_an_llm_server_that_is_down_is_503() -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}/prometheus/metrics"
    async with AsyncTestClient(_app(url)) as client:
        response = await client.get("/metrics/llm")
    assert response.status_code == 503
    assert "could not be read" in response.text
