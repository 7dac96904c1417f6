"""Milvus's rendered units and configuration: private addresses only, authentication, TLS with
the fleet certificate, and Milvus Lite behind the gate."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.ansible.plays import load_yaml


def test_milvus_standalone_publishes_only_on_private_and_loopback(rendered: Path) -> None:
    unit = (rendered / "milvus.service").read_text()
    assert sorted(re.findall(r"--publish (\S+)", unit)) == sorted(
        [
            "127.0.0.1:19530:19530",
            "10.20.2.21:19530:19530",
            "127.0.0.1:9091:9091",
            "10.20.2.21:9091:9091",
        ]
    )
    assert "--publish" not in (rendered / "milvus-etcd.service").read_text()
    assert "--publish" not in (rendered / "milvus-minio.service").read_text()
    assert re.search(r"milvusdb/milvus:v2\.5\.\d+", unit)
    config = load_yaml(rendered / "user.yaml")
    assert config["minio"]["accessKeyID"] == "test-access"
    assert config["etcd"]["endpoints"] == ["milvus-etcd:2379"]
    lite = (rendered / "milvus-lite.service").read_text()
    assert "--host 10.20.2.21" in lite


def test_milvus_standalone_authenticates_and_speaks_tls_with_the_fleet_certificate(
    rendered: Path,
) -> None:
    config = load_yaml(rendered / "user.yaml")
    security = config["common"]["security"]
    assert security["authorizationEnabled"] is True
    assert security["tlsMode"] == 1
    assert security["defaultRootPassword"] == "test-root-password"
    # The REST API is not used by the service; off, it cannot be a plaintext way in.
    assert config["proxy"]["http"]["enabled"] is False
    tls = config["tls"]
    unit = (rendered / "milvus.service").read_text()
    mounts = set(re.findall(r"--volume (\S+)", unit))
    for host_file, key in [
        ("/etc/ssl/ragfleet/host.pem", "serverPemPath"),
        ("/etc/ssl/ragfleet/host.key", "serverKeyPath"),
        ("/etc/ssl/ragfleet/ca.pem", "caPemPath"),
    ]:
        assert f"{host_file}:{tls[key]}:ro" in mounts, key


def test_milvus_lite_runs_behind_the_gate_with_tls_and_digests_only(rendered: Path) -> None:
    lite = (rendered / "milvus-lite.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", lite, re.MULTILINE)
    assert exec_start is not None
    argv = exec_start.group(1).split()
    assert argv[:2] == ["/opt/milvus-lite/bin/python", "/opt/milvus-lite/milvus_gate.py"]
    assert argv[argv.index("--tls-cert-file") + 1] == "/etc/ssl/ragfleet/host.pem"
    assert argv[argv.index("--tls-key-file") + 1] == "/etc/ssl/ragfleet/host.key"
    assert re.search(r"^SupplementaryGroups=ragfleet-tls$", lite, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=/etc/milvus/milvus-lite.env$", lite, re.MULTILINE)
    env = (rendered / "milvus-lite.env").read_text()
    assert "test-root-password" not in env
    assert "test-service-password" not in env
    users = json.loads(re.search(r"^MILVUS_GATE_USERS='(.*)'$", env, re.MULTILINE).group(1))
    digest = hashlib.sha256(b"milvus-gate:root:test-root-password").hexdigest()
    assert users["root"] == {"sha256": digest}
    assert "DropCollection" not in users["ragfleet_service"]["privileges"]
    assert "Search" in users["ragfleet_service"]["privileges"]
