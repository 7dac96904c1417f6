"""TLS between hosts, on real servers: the service reaches a TLS-only Redis through the fleet CA,
serves HTTPS itself, and plaintext or an unknown CA gets nowhere."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from litestar.testing import AsyncTestClient

from ragfleet.adapters.free_port import free_loopback_port
from ragfleet.app import create_app
from tests.integration.conftest import SettingsFactory
from tests.support.pki import TestCA
from tests.support.redis_server import RedisServer

RAGFLEET = str(Path(sys.executable).with_name("ragfleet"))
DOC = {"id": "ops/tls.md", "text": "Redis between hosts speaks TLS only, verified by the fleet CA."}


@pytest.fixture
def fleet_ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "pki")


@pytest.fixture
def tls_redis(tmp_path: Path, fleet_ca: TestCA) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, tls=fleet_ca.issue("redis"))
    server.start()
    yield server
    server.stop()


async def test_answers_are_cached_in_a_tls_redis_verified_by_the_fleet_ca(
    make_settings: SettingsFactory, tls_redis: RedisServer, fleet_ca: TestCA
) -> None:
    settings = make_settings(redis_url=tls_redis.url, tls_ca_file=str(fleet_ca.ca_file))
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post("/documents", json={"documents": [DOC]})
        first = (await client.post("/query", json={"query": "What does Redis speak?"})).json()
        second = (await client.post("/query", json={"query": "What does Redis speak?"})).json()
        ready = (await client.get("/readyz")).json()
    assert not first["cached"]
    assert second["cached"]
    assert ready["checks"]["cache"]["status"] == "ok", ready
    stored = redis.Redis.from_url(tls_redis.url, ssl_ca_certs=str(fleet_ca.ca_file))
    assert stored.keys("ragfleet:answer:*")


def test_a_tls_redis_refuses_plaintext_and_unknown_cas(
    tls_redis: RedisServer, tmp_path: Path
) -> None:
    plaintext = redis.Redis.from_url(tls_redis.url.replace("rediss://", "redis://", 1))
    with pytest.raises(redis.ConnectionError):
        plaintext.ping()
    other_ca = TestCA(tmp_path / "other", name="not the fleet CA")
    unknown = redis.Redis.from_url(tls_redis.url, ssl_ca_certs=str(other_ca.ca_file))
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        unknown.ping()


def test_serve_speaks_https_only_with_its_certificate(tmp_path: Path, fleet_ca: TestCA) -> None:
    certificate = fleet_ca.issue("service")
    port = free_loopback_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAGFLEET_")},
        "RAGFLEET_DATA_DIR": str(tmp_path / "data"),
        # Generation is never reached: /healthz only. No embedded model starts for this URL.
        "RAGFLEET_LLM_BASE_URL": "http://127.0.0.1:9",
        "RAGFLEET_TLS_CERT_FILE": str(certificate.cert_file),
        "RAGFLEET_TLS_KEY_FILE": str(certificate.key_file),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [RAGFLEET, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        verified = ssl.create_default_context(cafile=str(fleet_ca.ca_file))
        response = _wait_for_health(f"https://127.0.0.1:{port}/healthz", verified, process, log)
        assert response.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=5)  # system trust store
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_health(
    url: str, verify: Any, process: subprocess.Popen[bytes], log: Path
) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(url, verify=verify, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"no HTTPS answer in 60 s:\n{log.read_text()}")
