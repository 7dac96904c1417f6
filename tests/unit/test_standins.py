"""The stand-in images' contracts (tests/standins/), checked where they run fast: here, as plain
processes on loopback. Molecule runs the same programs as containers under the roles' units."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

STANDINS = Path(__file__).resolve().parents[1] / "standins"
SCHEMA = (
    Path(__file__).resolve().parents[2]
    / "ansible/roles/tensorrt_llm/files/llm_args_fields-1.2.0.json"
)
sys.path.insert(0, str(STANDINS))

import standin  # noqa: E402
import trtllm_serve  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(script: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(STANDINS / script), *args],
        env={"PATH": os.environ["PATH"], **env},
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def minio(tmp_path: Path) -> Iterator[tuple[int, str, str]]:
    port = _free_port()
    user, password = "fleet-user", "fleet-password-1"
    process = _start(
        "minio.py",
        ["server", "--address", f"127.0.0.1:{port}", str(tmp_path / "data")],
        {"MINIO_ROOT_USER": user, "MINIO_ROOT_PASSWORD": password},
    )
    try:
        assert standin.wait_for_http(f"http://127.0.0.1:{port}/minio/health/live", 20)
        yield port, user, password
    finally:
        _stop(process)


def _bucket_call(port: int, method: str, access_key: str, secret_key: str) -> int:
    host = f"127.0.0.1:{port}"
    headers = standin.sign_s3_request(method, host, "/milvus-bucket", access_key, secret_key)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, "/milvus-bucket", headers={"Host": host, **headers})
    status = connection.getresponse().status
    connection.close()
    return status


def test_minio_accepts_its_root_keys_and_refuses_any_other(minio):
    port, user, password = minio
    assert _bucket_call(port, "HEAD", user, password) == 404
    assert _bucket_call(port, "PUT", user, password) == 200
    assert _bucket_call(port, "HEAD", user, password) == 200
    assert _bucket_call(port, "HEAD", user, "minioadmin") == 403
    assert _bucket_call(port, "HEAD", "minioadmin", "minioadmin") == 403


def test_minio_refuses_a_short_password_and_defaults_without_any(tmp_path):
    short = _start(
        "minio.py",
        ["server", "--address", f"127.0.0.1:{_free_port()}", str(tmp_path / "a")],
        {"MINIO_ROOT_USER": "fleet-user", "MINIO_ROOT_PASSWORD": "short"},
    )
    assert short.wait(timeout=20) == 1
    assert "at least 8 characters" in (short.stderr.read() if short.stderr else "")
    # Without the variables MinIO runs with its published default: a unit whose environment
    # never reached the container starts, and Milvus' configured keys are then refused.
    port = _free_port()
    unset = _start(
        "minio.py", ["server", "--address", f"127.0.0.1:{port}", str(tmp_path / "b")], {}
    )
    try:
        assert standin.wait_for_http(f"http://127.0.0.1:{port}/minio/health/live", 20)
        assert _bucket_call(port, "HEAD", "fleet-user", "fleet-password-1") == 403
    finally:
        _stop(unset)


def test_etcd_needs_a_writable_data_dir_and_answers_health(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    blocked = tmp_path / "file"
    blocked.write_text("")
    refused = _start("etcd.py", [f"--listen-client-urls={url}", f"--data-dir={blocked}/etcd"], {})
    assert refused.wait(timeout=20) == 1
    served = _start(
        "etcd.py",
        [f"--listen-client-urls={url}", f"--data-dir={tmp_path / 'etcd'}"],
        {"ETCD_SNAPSHOT_COUNT": "50000"},
    )
    try:
        assert standin.wait_for_http(f"{url}/health", 20)
        assert (tmp_path / "etcd/member/snap/db").is_file()
    finally:
        _stop(served)
    unknown = _start("etcd.py", ["--no-such-flag=1"], {})
    assert unknown.wait(timeout=20) == 2


def _rendered_options(backend: str) -> dict[str, object]:
    """What the role renders for each backend (kept equal by tests/unit/test_trtllm_options.py)."""
    options: dict[str, object] = {
        "kv_cache_config": {"free_gpu_memory_fraction": 0.85},
        "return_perf_metrics": True,
    }
    if backend == "pytorch":
        options.update(dtype="bfloat16", enable_iter_perf_stats=True)
    else:
        options.update(quant_config={"quant_algo": "W4A16_AWQ"}, enable_build_cache=True)
    return options


@pytest.mark.parametrize("backend", ["pytorch", "tensorrt"])
def test_trtllm_accepts_the_options_the_role_renders(backend):
    schema = json.loads(SCHEMA.read_text())
    assert trtllm_serve.option_errors(_rendered_options(backend), backend, schema) == []


def test_trtllm_rejects_what_the_backends_argument_classes_forbid():
    schema = json.loads(SCHEMA.read_text())
    tensorrt = trtllm_serve.option_errors(
        {"enable_iter_perf_stats": True, "quant_config": {"quant_algo": "INT4", "bits": 4}},
        "tensorrt",
        schema,
    )
    assert "enable_iter_perf_stats: extra inputs are not permitted" in tensorrt
    assert "quant_config.bits: extra inputs are not permitted" in tensorrt
    assert "quant_config.quant_algo: INT4 is not a QuantAlgo" in tensorrt
    pytorch = trtllm_serve.option_errors({"enable_build_cache": True}, "pytorch", schema)
    assert pytorch == ["enable_build_cache: extra inputs are not permitted"]


def test_trtllm_command_line_is_the_releases(tmp_path):
    args = trtllm_serve.parse(
        [
            "serve",
            "/models/model",
            "--host",
            "0.0.0.0",
            "--port",
            "8001",
            "--backend",
            "trt",
            "--tp_size",
            "2",
            "--kv_cache_free_gpu_memory_fraction",
            "0.8",
            "--extra_llm_api_options",
            "/config/x.yml",
        ]
    )
    assert (args.backend, args.tensor_parallel_size, args.free_gpu_memory_fraction) == (
        "tensorrt",
        2,
        0.8,
    )
    assert args.extra_llm_api_options == "/config/x.yml"
    with pytest.raises(SystemExit):
        trtllm_serve.parse(["serve", "m", "--enable_iter_perf_stats"])


def test_trtllm_reuses_a_built_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TLLM_LLMAPI_BUILD_CACHE_ROOT", str(tmp_path))
    args = trtllm_serve.parse(["serve", "/models/model", "--backend", "tensorrt"])
    options = _rendered_options("tensorrt")
    trtllm_serve.load_or_build_engine(args, options)
    records = sorted(tmp_path.glob("engine-*/metadata.json"))
    assert len(records) == 1
    built = records[0].stat().st_mtime_ns
    time.sleep(0.01)
    trtllm_serve.load_or_build_engine(args, options)
    assert sorted(tmp_path.glob("engine-*/metadata.json")) == records
    assert records[0].stat().st_mtime_ns == built
    assert yaml.safe_load(records[0].read_text())["kind"] == "Engine"
