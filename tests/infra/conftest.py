"""testinfra checks of converged hosts: `pytest tests/infra --hosts=...` (see docs/testing.md).

Each module carries the marker of the role it checks; `-m` picks the roles a host was converged
with (a Molecule scenario sets it in its verifier options). `host` checks hold on every host.
"""

from typing import Any

import pytest

from ragfleet.hardware import Profile, load_profile
from tests.infra.artifacts import read_manifest

MARKERS = {
    "host": "holds on every converged host (permissions of /etc and /usr)",
    "redis": "the redis role",
    "exporters": "the exporters role",
    "dcgm_exporter": "the exporters role's DCGM exporter (GPU hosts)",
    "nvidia_driver": "the nvidia_driver role (a working driver, or what it leaves without a GPU)",
    "nvme_raid": "the nvme_raid role (what it leaves with or without data devices)",
    "data_volume": "the data_volume role (Terraform's EBS data volume mounted, or nothing)",
    "container_runtime": "the container_runtime role (Docker Engine)",
    "nvidia_container_toolkit": "the nvidia_container_toolkit role",
    "tensorrt_llm": "the tensorrt_llm role (trtllm-serve)",
    "milvus_standalone": "the milvus role in standalone mode (etcd, MinIO, Milvus containers)",
    "grafana": "the grafana role (provisioning as code)",
    "milvus": "the milvus role in lite mode (Milvus Lite server)",
    "prometheus": "the prometheus role (Prometheus and Alertmanager, targets up)",
    "ragfleet_service": "the ragfleet_service role (the service, ready)",
    "gateway": "the gateway role (HAProxy, TLS)",
    "all_in_one": "end to end through the gateway: ingest, query, listening sockets, Redis auth",
    "multi_host": "a fleet: HAProxy spreads over two inference hosts sharing one Redis cache",
    "alerts": "stops the service and follows its alert through Prometheus and Alertmanager",
    "conformance": "the host against its hardware profile: GPUs, cores, RAM, NVMe RAID, data "
    "mount (real hosts; fails where the hardware is missing)",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("hosts", default=None):
        raise pytest.UsageError(
            "tests/infra check a converged host: name it with --hosts "
            "(podman://NAME, ssh://HOST or ansible://GROUP with --ansible-inventory=FILE)"
        )


@pytest.fixture(scope="module")
def manifest(host) -> dict[str, Any]:
    """What site.yml recorded on the host: profile, gpu, install, data_dir, groups."""
    return read_manifest(host)


@pytest.fixture(scope="module")
def hardware_profile(manifest: dict[str, Any]) -> Profile:
    """hardware_profiles/<the manifest's profile>.yaml from the controller (or from the
    directory in $RAGFLEET_HARDWARE_PROFILES)."""
    return load_profile(manifest["profile"])


@pytest.fixture(scope="module")
def gpu_host(manifest: dict[str, Any]) -> bool:
    """A gpu_inference host converged with ragfleet_gpu: its GPU roles ran."""
    return bool(manifest["gpu"]) and "gpu_inference" in manifest["groups"]


@pytest.fixture(scope="module")
def gateway_url(manifest: dict[str, Any]) -> str:
    """The gateway's HTTPS front on the host's private address (a name its certificate carries)."""
    return f"https://{manifest['address']}:443"


@pytest.fixture(scope="module")
def gateway_ca(host) -> str:
    """The gateway's certificate on the host: self-signed, so it is its own trust anchor."""
    certificates = host.check_output("find /etc/haproxy/certs -name '*.pem' -type f").split()
    assert certificates, "no certificate in /etc/haproxy/certs"
    return str(certificates[0])
