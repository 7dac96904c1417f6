"""Stand-in for milvusdb/milvus:v2.5 as `milvus run standalone`: the configuration overrides at
/milvus/configs/user.yaml (ETCD_ENDPOINTS and MINIO_ADDRESS take precedence, as in Milvus),
etcd and MinIO reachable and MinIO accepting the configured keys before anything listens (Milvus
does not start without them), the Milvus gRPC/HTTP API on 19530 (Milvus Lite's server, which
speaks the same protocol to pymilvus) with data under /var/lib/milvus, and /healthz + /metrics
on 9091."""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from standin import exit_on_sigterm, fail, log, serve_http, sign_s3_request, wait_for_http

NAME = "milvus"
CONFIG = Path("/milvus/configs/user.yaml")
DATA = Path("/var/lib/milvus")
PEER_TIMEOUT_S = 120


def load_config() -> dict[str, Any]:
    if not CONFIG.exists():
        return {}
    try:
        loaded = yaml.safe_load(CONFIG.read_text())
    except (OSError, yaml.YAMLError) as error:
        fail(NAME, f"cannot read {CONFIG}: {error}")
    return loaded if isinstance(loaded, dict) else {}


def endpoint(variable: str, configured: str, default_port: int) -> tuple[str, int]:
    value = os.environ.get(variable) or configured
    host, _, port = value.partition(":")
    return host, int(port or default_port)


def check_object_storage(minio: dict[str, Any], address: tuple[str, int]) -> None:
    """Milvus creates its bucket at start; wrong keys stop it there."""
    bucket = str(minio.get("bucketName", "a-bucket"))
    access_key = str(minio.get("accessKeyID", "minioadmin"))
    secret_key = str(minio.get("secretAccessKey", "minioadmin"))
    host = f"{address[0]}:{address[1]}"
    for method in ("HEAD", "PUT"):
        connection = http.client.HTTPConnection(*address, timeout=10)
        headers = sign_s3_request(method, host, f"/{bucket}", access_key, secret_key)
        connection.request(method, f"/{bucket}", headers={"Host": host, **headers})
        status = connection.getresponse().status
        connection.close()
        if status == 403:
            fail(
                NAME,
                f"MinIO at {host} refused the configured access key (403): see minio.* in {CONFIG}",
            )
        if method == "HEAD" and status == 200:
            return
        if method == "PUT" and status != 200:
            fail(NAME, f"MinIO at {host} answered {status} creating bucket {bucket}")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="milvus", allow_abbrev=False)
    parser.add_argument("action", choices=["run"])
    parser.add_argument("role", choices=["standalone"])
    parser.parse_args(argv)

    config = load_config()
    etcd_endpoints = config.get("etcd", {}).get("endpoints", ["localhost:2379"])
    etcd = endpoint("ETCD_ENDPOINTS", str(etcd_endpoints[0]), 2379)
    minio = config.get("minio", {})
    minio_address = endpoint(
        "MINIO_ADDRESS", f"{minio.get('address', 'localhost')}:{minio.get('port', 9000)}", 9000
    )
    if not wait_for_http(f"http://{etcd[0]}:{etcd[1]}/health", PEER_TIMEOUT_S):
        fail(NAME, f"etcd at {etcd[0]}:{etcd[1]} did not answer /health")
    if not wait_for_http(
        f"http://{minio_address[0]}:{minio_address[1]}/minio/health/live", PEER_TIMEOUT_S
    ):
        fail(NAME, f"MinIO at {minio_address[0]}:{minio_address[1]} did not answer")
    check_object_storage(minio, minio_address)

    port = int(config.get("proxy", {}).get("port", 19530))
    (DATA / "lite").mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("milvus-lite")),
            "server",
            "--data-dir",
            str(DATA / "lite"),
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ]
    )
    exit_on_sigterm(server.terminate)

    def healthz(_request: object) -> tuple[int, str, bytes]:
        healthy = server.poll() is None and listening(port)
        return (200, "text/plain", b"OK") if healthy else (503, "text/plain", b"not ready")

    def metrics(_request: object) -> tuple[int, str, bytes]:
        up = 1 if server.poll() is None else 0
        body = f'# TYPE milvus_num_node gauge\nmilvus_num_node{{role_name="standalone"}} {up}\n'
        return 200, "text/plain; version=0.0.4", body.encode()

    serve_http("0.0.0.0", 9091, {("GET", "/healthz"): healthz, ("GET", "/metrics"): metrics})
    log(
        NAME,
        f"standalone on :{port}, etcd {etcd[0]}:{etcd[1]}, "
        f"MinIO {minio_address[0]}:{minio_address[1]}",
    )
    while server.poll() is None:
        time.sleep(1)
    fail(NAME, f"the Milvus API server exited with {server.returncode}")


if __name__ == "__main__":
    main(sys.argv[1:])
