"""The real entry points: `ragfleet ingest`, then `ragfleet serve` with two workers over Milvus Lite
(which needs the Milvus Lite server sidecar), queried over HTTP on loopback."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.commands import serve
from tests.integration.conftest import REPO, TEST_MAX_TOKENS
from tests.support.serving import serving as serve_process

RAGFLEET = str(Path(sys.executable).with_name("ragfleet"))


@pytest.fixture
def env(tmp_path: Path, llm_server: EmbeddedLLMServer) -> dict[str, str]:
    return {
        **os.environ,
        "RAGFLEET_DATA_DIR": str(tmp_path / "data"),
        "RAGFLEET_LLM_BASE_URL": llm_server.base_url,
        "RAGFLEET_LLM_MAX_TOKENS": str(TEST_MAX_TOKENS),
    }


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`ragfleet serve --workers 2`, ready; its process group is killed at the end."""
    with serve_process(RAGFLEET, env, log, options=["--workers", "2"], ready_within_s=90) as served:
        yield served


@pytest.fixture
def served(
    env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path]]:
    env = {**env, **getattr(request, "param", {})}
    log = tmp_path / "serve.log"
    with serving(env, log) as (_, base):
        yield base, log


def processes_in_group(pgid: int) -> list[str]:
    """The processes, zombies included, still in a process group (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            if os.getpgid(int(entry.name)) == pgid:
                found.append(f"{entry.name} {(entry / 'stat').read_text().split()[2]}")
    return found


def test_ingest_reports_files_and_is_idempotent(env: dict[str, str]) -> None:
    command = [RAGFLEET, "ingest", "docs/api.md", "--quiet"]
    first = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    second = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert "1 ingested" in first.stderr
    assert "0 ingested (0 chunks), 1 unchanged" in second.stderr


def test_ingest_refuses_a_file_whose_metadata_is_too_large(
    env: dict[str, str], tmp_path: Path
) -> None:
    page = tmp_path / "long-title.html"
    page.write_text(f"<html><title>{'A very long title. ' * 20}</title><p>Body.</p></html>")
    result = subprocess.run(
        [RAGFLEET, "ingest", str(page), "--root", str(tmp_path), "--quiet"],
        env={**env, "RAGFLEET_METADATA_MAX_BYTES": "256"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "document 'long-title.html': metadata is 409 bytes as JSON" in result.stderr
    assert "over the limit of 256 bytes (RAGFLEET_METADATA_MAX_BYTES)" in result.stderr


def test_ingest_names_a_missing_path(env: dict[str, str]) -> None:
    result = subprocess.run(
        [RAGFLEET, "ingest", "no/such/dir"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "no/such/dir: no such file or directory" in result.stderr


def test_two_workers_share_one_milvus_lite_database(
    env: dict[str, str], served: tuple[str, Path]
) -> None:
    base, log = served
    # Ingested before the start? No: the service holds the database; ingest over HTTP instead.
    document = {
        "id": "ops/raid.md",
        "text": "The medium profile stripes two NVMe drives as RAID 0.",
    }
    assert httpx.post(f"{base}/documents", json={"documents": [document]}).status_code == 200
    # Several requests so both workers answer at least one (each opens the sidecar, not the file).
    answers = [
        httpx.post(f"{base}/query", json={"query": "How are NVMe drives combined?"}, timeout=60)
        for _ in range(4)
    ]
    assert all(a.status_code == 200 for a in answers)
    assert all(a.json()["sources"] == ["ops/raid.md"] for a in answers)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    request_lines = [
        line for line in lines if line["message"] == "request" and line["path"] == "/query"
    ]
    assert len(request_lines) == 4
    assert {"request_id", "route", "status", "duration_s", "timestamp", "level"} <= request_lines[
        0
    ].keys()
    assert all("query" not in line for line in request_lines)  # question text stays out of logs
    assert "Milvus Lite server" in log.read_text()


def _scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def _sample_sum(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_from_both_workers_add_up_and_pass_promtool(served: tuple[str, Path]) -> None:
    base, _ = served
    document = {"id": "m", "text": "Metrics are collected in multiprocess mode."}
    httpx.post(f"{base}/documents", json={"documents": [document]})
    for _ in range(6):
        response = httpx.post(
            f"{base}/query", json={"query": "How are metrics collected?"}, timeout=60
        )
        assert response.status_code == 200
    text = _scrape(base)
    assert _sample_sum(text, "ragfleet_http_requests_total", path="/query", status_code="200") == 6
    hits = _sample_sum(text, "ragfleet_cache_requests_total", result="hit")
    misses = _sample_sum(text, "ragfleet_cache_requests_total", result="miss")
    assert hits + misses == 6
    assert _sample_sum(text, "ragfleet_corpus_chunks") >= 1
    assert _sample_sum(text, "ragfleet_stage_duration_seconds_count", stage="total") == 6
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs the prometheus package as root"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("served", [{"RAGFLEET_LLM_MAX_TOKENS": "400"}], indirect=True)
def test_a_client_that_disconnects_cancels_the_generation(
    served: tuple[str, Path], llm_server: EmbeddedLLMServer
) -> None:
    base, _ = served
    document = {"id": "long", "text": "ragfleet runs on laptops and on fleets of GPU hosts."}
    httpx.post(f"{base}/documents", json={"documents": [document]})
    body = {"query": "Write a very long and detailed essay about where ragfleet runs."}
    with httpx.stream("POST", f"{base}/query/stream", json=body, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: token"):
                break  # one token arrived: hang up mid-generation
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        slots = httpx.get(f"{llm_server.base_url}/slots", timeout=2).json()
        if not any(slot["is_processing"] for slot in slots):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the LLM server kept generating after the client went away")
    time.sleep(0.5)  # the worker records the cancellation as its generator unwinds
    text = _scrape(base)
    assert _sample_sum(text, "ragfleet_llm_requests_total", outcome="cancelled") == 1
    assert _sample_sum(text, "ragfleet_llm_requests_total", outcome="ok") == 0


@pytest.mark.parametrize(
    ("served", "forwarded_for", "expected"),
    [
        # The peer (127.0.0.1) is a trusted proxy: the forwarded client address counts, and a
        # client outside the allow-list cannot read /metrics through the gateway.
        ({"RAGFLEET_TRUSTED_PROXIES": "127.0.0.1"}, "203.0.113.9", 403),
        ({"RAGFLEET_TRUSTED_PROXIES": "127.0.0.1"}, "127.0.0.1", 200),
        # The peer is not a trusted proxy: its X-Forwarded-For is ignored, the peer address counts.
        ({"RAGFLEET_TRUSTED_PROXIES": "10.9.9.9"}, "203.0.113.9", 200),
    ],
    indirect=["served"],
)
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    served: tuple[str, Path], forwarded_for: str, expected: int
) -> None:
    base, _ = served
    response = httpx.get(f"{base}/metrics", headers={"x-forwarded-for": forwarded_for}, timeout=10)
    assert response.status_code == expected


def test_sigterm_to_the_main_process_leaves_no_process_behind(
    env: dict[str, str], tmp_path: Path
) -> None:
    """As systemd stops the unit (KillMode=mixed): SIGTERM to the main process only. Everything it
    started, workers, sidecars and multiprocessing's resource tracker, is gone when it exits;
    a straggler would be SIGKILLed and, in a container, cost the whole TimeoutStopSec."""
    with serving(env, tmp_path / "serve.log") as (process, _):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert processes_in_group(process.pid) == []


def test_serve_hands_workers_their_settings_and_leaves_the_environment_alone(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Milvus Lite sidecar's URL and the command line's port reach the workers inside the app
    factory uvicorn pickles for them; of the environment only prometheus-client's own directory
    variable is set."""
    for key, value in env.items():
        if key.startswith("RAGFLEET_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # set by serve, restored after the test
    before = dict(os.environ)
    configs: list[uvicorn.Config] = []

    def capture(config: uvicorn.Config) -> int:
        configs.append(config)
        return 0

    monkeypatch.setattr(serve, "run_server", capture)

    assert serve.run(argparse.Namespace(host=None, port=8123, workers=2)) == 0

    after = dict(os.environ)
    assert after.pop("PROMETHEUS_MULTIPROC_DIR") == str(tmp_path.resolve() / "data/prometheus-8123")
    del before["PROMETHEUS_MULTIPROC_DIR"]
    assert after == before
    (config,) = configs
    assert config.factory
    settings = pickle.loads(pickle.dumps(config.app)).args[0]  # what a spawned worker gets
    assert settings.server.port == 8123
    assert settings.server.workers == 2
    assert settings.store.milvus_uri.startswith("http://127.0.0.1:")
    assert settings.models.llm_base_url == env["RAGFLEET_LLM_BASE_URL"]
