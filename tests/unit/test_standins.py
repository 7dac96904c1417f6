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
from typing import Any

import grpc
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


# --- milvus: the security keys of user.yaml, and the RBAC calls the milvus role makes ---------

ROLE_FILES = Path(__file__).resolve().parents[2] / "ansible/roles/milvus"
sys.path.insert(0, str(ROLE_FILES / "files"))
sys.path.insert(0, str(ROLE_FILES / "library"))

import milvus as milvus_standin  # noqa: E402
import milvus_rbac  # noqa: E402
from pymilvus import DataType, MilvusClient  # noqa: E402
from pymilvus.exceptions import MilvusException  # noqa: E402

from tests.support.pki import TestCA  # noqa: E402

ROOT_PASSWORD = "vault-root-password-1"
SERVICE_PASSWORD = "vault-service-password-1"
SERVICE_PRIVILEGES = ["CreateCollection", "DescribeCollection", "Insert", "Query", "Search"]


@pytest.fixture
def milvus_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start the stand-in's API (security() and start_api()) from a user.yaml dict."""
    servers = []

    def start(config: dict[str, Any]) -> int:
        # A fresh /var/lib/milvus for each start, as a new container volume.
        data = tmp_path / f"milvus-{len(servers)}"
        (data / "lite").mkdir(parents=True)
        monkeypatch.setattr(milvus_standin, "DATA", data)
        port = _free_port()
        servers.append(milvus_standin.start_api(config, port))
        return port

    yield start
    for server in servers:
        server.stop(grace=0)


def _secure_config(ca: TestCA, **security: Any) -> dict[str, Any]:
    certificate = ca.issue("milvus")
    return {
        "common": {"security": {"authorizationEnabled": True, "tlsMode": 1, **security}},
        "tls": {
            "serverPemPath": str(certificate.cert_file),
            "serverKeyPath": str(certificate.key_file),
            "caPemPath": str(ca.ca_file),
        },
    }


def _client(port: int, token: str, ca: TestCA | None = None) -> MilvusClient:
    scheme = "https" if ca else "http"
    extra = {"server_pem_path": str(ca.ca_file)} if ca else {}
    return MilvusClient(uri=f"{scheme}://127.0.0.1:{port}", token=token, timeout=5, **extra)


def test_milvus_serves_tls_with_the_configured_files_and_refuses_plaintext(milvus_api, tmp_path):
    ca = TestCA(tmp_path / "pki")
    port = milvus_api(_secure_config(ca, defaultRootPassword=ROOT_PASSWORD))
    # Plaintext first: pymilvus would reuse a TLS channel to the same address and token.
    with pytest.raises(MilvusException):
        _client(port, f"root:{ROOT_PASSWORD}")
    _client(port, f"root:{ROOT_PASSWORD}", ca).close()


def test_milvus_creates_root_with_the_configured_password_or_milvus_s_default(milvus_api, tmp_path):
    ca = TestCA(tmp_path / "pki")
    configured = milvus_api(_secure_config(ca, defaultRootPassword=ROOT_PASSWORD))
    with pytest.raises(MilvusException):
        _client(configured, "root:Milvus", ca)
    with pytest.raises(MilvusException):
        _client(configured, "")
    default = milvus_api({"common": {"security": {"authorizationEnabled": True}}})
    _client(default, "root:Milvus").close()


def test_milvus_without_authorization_takes_any_caller(milvus_api):
    port = milvus_api({})
    assert _client(port, "").list_collections() == []


@pytest.mark.parametrize(
    "config",
    [
        {"common": {"security": {"tlsMode": 1}}, "tls": {"serverPemPath": "/nonexistent"}},
        {"common": {"security": {"tlsMode": 2}}},
    ],
    ids=["missing-files", "mutual-tls"],
)
def test_milvus_refuses_tls_it_cannot_serve(milvus_api, config):
    with pytest.raises(SystemExit):
        milvus_api(config)


class _Module:
    """What milvus_rbac.run() needs of AnsibleModule."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.check_mode = False

    def exit_json(self, **result: Any) -> None:
        raise _Exit(result)

    def fail_json(self, **result: Any) -> None:
        raise AssertionError(result["msg"])


class _Exit(Exception):
    pass


def _rbac(port: int, ca: TestCA, **overrides: Any) -> dict[str, Any]:
    params = {
        "uri": f"https://127.0.0.1:{port}",
        "ca_file": str(ca.ca_file),
        "root_password": ROOT_PASSWORD,
        "service_user": "ragfleet_service",
        "service_password": SERVICE_PASSWORD,
        "service_role": "ragfleet_service",
        "db_name": "default",
        "privileges": SERVICE_PRIVILEGES,
        "timeout": 5.0,
    } | overrides
    with pytest.raises(_Exit) as result:
        milvus_rbac.run(_Module(params))
    return dict(result.value.args[0])


def test_the_role_s_rbac_calls_converge_a_milvus_whose_root_has_the_default(milvus_api, tmp_path):
    """A Milvus created before authentication was on: root still has "Milvus"."""
    ca = TestCA(tmp_path / "pki")
    port = milvus_api(_secure_config(ca))
    first = _rbac(port, ca)
    assert first["changed"]
    assert "root's password" in first["changes"]
    assert _rbac(port, ca) == {"changed": False, "changes": []}
    # pymilvus keeps the channel it opened as root:Milvus above: a call shows the refusal.
    with pytest.raises((MilvusException, grpc.RpcError)):
        _client(port, "root:Milvus", ca).list_collections()

    service = _client(port, f"ragfleet_service:{SERVICE_PASSWORD}", ca)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    service.create_collection("chunks", schema=schema)
    service.insert("chunks", [{"pk": 1, "v": [0.1, 0.2]}])
    for forbidden in (
        lambda: service.create_user("intruder", "intruder-password"),
        lambda: service.drop_collection("chunks"),
        lambda: service.grant_role("ragfleet_service", "admin"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            forbidden()
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # A grant beyond the list is revoked; a changed service password re-creates the user.
    root = _client(port, f"root:{ROOT_PASSWORD}", ca)
    root.grant_privilege_v2("ragfleet_service", "DropCollection", "*", db_name="default")
    again = _rbac(port, ca, service_password="rotated-service-password")
    assert again["changes"] == [
        "password of ragfleet_service",
        "revoke DropCollection on default.*",
        "ragfleet_service in ragfleet_service",
    ]
    _client(port, "ragfleet_service:rotated-service-password", ca).close()


def test_the_role_s_rbac_calls_fail_when_root_refuses_both_passwords(milvus_api, tmp_path):
    ca = TestCA(tmp_path / "pki")
    port = milvus_api(_secure_config(ca, defaultRootPassword="someone-else-s-password"))
    with pytest.raises(AssertionError, match="set milvus_root_password"):
        _rbac(port, ca)
