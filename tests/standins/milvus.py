"""Stand-in for milvusdb/milvus:v2.5 as `milvus run standalone`: the configuration overrides at
/milvus/configs/user.yaml (ETCD_ENDPOINTS and MINIO_ADDRESS take precedence, as in Milvus),
etcd and MinIO reachable and MinIO accepting the configured keys before anything listens (Milvus
does not start without them), the Milvus gRPC API on 19530 (Milvus Lite's servicer, which speaks
the same protocol to pymilvus) with data under /var/lib/milvus, and /healthz + /metrics on 9091
(plain HTTP, as Milvus's management port).

Security keys read as Milvus 2.5 reads them: common.security.authorizationEnabled (every call
authenticated, privileges enforced; root created with common.security.defaultRootPassword,
default "Milvus"; users, roles and grants kept under /var/lib/milvus as Milvus keeps them in
etcd), common.security.tlsMode 1 with tls.serverPemPath/serverKeyPath (one-way TLS; missing files
stop it; 2, mutual TLS, is refused: nothing here uses it). The checks and the RBAC RPCs the milvus
role calls come from the role's own milvus_gate.py, copied beside this file.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
from pathlib import Path
from typing import Any

import yaml
from milvus_gate import PUBLISHED_ROOT_PASSWORD, Gate, RbacServicer, build_server, read_tls
from standin import exit_on_sigterm, fail, log, serve_http, sign_s3_request, wait_for_http

NAME = "milvus"
CONFIG = Path("/milvus/configs/user.yaml")
DATA = Path("/var/lib/milvus")
# Milvus's management port: METRICS_PORT overrides it, as in Milvus (internal/http/server.go).
METRICS_PORT = int(os.environ.get("METRICS_PORT") or 9091)
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


def security(config: dict[str, Any]) -> tuple[Gate | None, tuple[bytes, bytes] | None]:
    """The gate (authorizationEnabled) and the TLS files (tlsMode 1) user.yaml asks for."""
    common = config.get("common") or {}
    settings = common.get("security") or {}
    gate = None
    if str(settings.get("authorizationEnabled", False)).lower() == "true":
        root_password = str(settings.get("defaultRootPassword", PUBLISHED_ROOT_PASSWORD))
        gate = Gate.with_root(root_password, DATA / "rbac.json")
    tls_mode = int(settings.get("tlsMode", 0))
    if tls_mode == 0:
        return gate, None
    if tls_mode != 1:
        fail(NAME, f"common.security.tlsMode {tls_mode}: the stand-in serves one-way TLS (1) only")
    files = config.get("tls") or {}
    try:
        return gate, read_tls(str(files["serverPemPath"]), str(files["serverKeyPath"]))
    except (KeyError, OSError) as error:
        fail(NAME, f"tlsMode 1 needs tls.serverPemPath and tls.serverKeyPath: {error}")
    raise AssertionError("unreachable")


def start_api(config: dict[str, Any], port: int) -> Any:
    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from milvus_lite.db import MilvusLite

    gate, tls = security(config)

    class Servicer(RbacServicer, MilvusServicer):  # type: ignore[misc]
        pass

    servicer = Servicer(MilvusLite(str(DATA / "lite")))
    # Without authorizationEnabled Milvus still serves the RBAC calls; it only enforces nothing.
    servicer.gate = gate or Gate.with_root(PUBLISHED_ROOT_PASSWORD)
    server, _ = build_server(servicer, 10, gate, f"0.0.0.0:{port}", tls)
    server.start()
    log(NAME, f"authorization {'on' if gate else 'off'}, TLS {'on' if tls else 'off'}")
    return server


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
    server = start_api(config, port)
    exit_on_sigterm(lambda: server.stop(grace=5))

    def healthz(_request: object) -> tuple[int, str, bytes]:
        healthy = listening(port)
        return (200, "text/plain", b"OK") if healthy else (503, "text/plain", b"not ready")

    def metrics(_request: object) -> tuple[int, str, bytes]:
        up = 1 if listening(port) else 0
        body = f'# TYPE milvus_num_node gauge\nmilvus_num_node{{role_name="standalone"}} {up}\n'
        return 200, "text/plain; version=0.0.4", body.encode()

    serve_http(
        "0.0.0.0", METRICS_PORT, {("GET", "/healthz"): healthz, ("GET", "/metrics"): metrics}
    )
    log(
        NAME,
        f"standalone on :{port}, etcd {etcd[0]}:{etcd[1]}, "
        f"MinIO {minio_address[0]}:{minio_address[1]}",
    )
    server.wait_for_termination()


if __name__ == "__main__":
    main(sys.argv[1:])
