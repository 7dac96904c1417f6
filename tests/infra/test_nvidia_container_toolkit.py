"""The nvidia_container_toolkit role: NVIDIA's repository, the toolkit pinned and held, the
runtime registered with Docker, the CDI spec and the /dev/char udev rule. Without the install
switch and without a GPU (CI) the role leaves the udev rule and the repository definition,
disabled (no key was fetched), and Docker's daemon.json already carries the runtime exactly as
nvidia-ctk writes it; these tests check that, and the packages and spec where they exist."""

import json

import pytest
import yaml

from tests.infra.artifacts import apt_source_problems, is_held, package_version, role_defaults

pytestmark = pytest.mark.nvidia_container_toolkit

SOURCES = "/etc/apt/sources.list.d/nvidia-container-toolkit.sources"
KEYRING = "/etc/apt/keyrings/nvidia-container-toolkit.asc"
UDEV_RULE = "/etc/udev/rules.d/71-nvidia-dev-char.rules"
CDI_SPEC = "/etc/cdi/nvidia.yaml"
PACKAGES = (
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "libnvidia-container-tools",
    "libnvidia-container1",
)
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@pytest.fixture(autouse=True, scope="module")
def _only_on_gpu_hosts(gpu_host):
    if not gpu_host:
        pytest.skip("the manifest says this is no GPU inference host: the role did not run")


def test_repository_is_signed_by_its_own_key_and_enabled_only_with_it(host):
    problems = apt_source_problems(host, SOURCES, KEYRING)
    assert not problems, "\n".join(problems)


def test_repository_is_nvidias_flat_repository_for_this_architecture(host):
    content = host.file(SOURCES).content_string
    arch = ARCH[host.system_info.arch]
    assert f"URIs: https://nvidia.github.io/libnvidia-container/stable/deb/{arch}" in content
    assert "Suites: /" in content


def test_udev_rule_recreates_the_dev_char_symlinks(host):
    rule = host.file(UDEV_RULE)
    assert (rule.user, rule.group, rule.mode) == ("root", "root", 0o644)
    lines = [line for line in rule.content_string.splitlines() if not line.startswith("#")]
    assert lines == [
        'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
        'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"'
    ]


def test_docker_knows_the_nvidia_runtime(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["runtimes"]["nvidia"] == {"path": "nvidia-container-runtime", "args": []}


def test_toolkit_installed_pinned_and_held_exactly_when_the_repository_is_enabled(host, manifest):
    enabled = "Enabled: yes" in host.file(SOURCES).content_string
    assert enabled == manifest["install"]
    pinned = role_defaults("nvidia_container_toolkit")["nvidia_container_toolkit_version"]
    for name in PACKAGES:
        version = package_version(host, name)
        if enabled:
            assert version == pinned, f"{name} {version}, pinned {pinned}"
            assert is_held(host, name), f"{name} is not held"
        else:
            assert version is None, f"{name} {version} installed without the role's repository"


def test_cdi_spec_exactly_where_the_toolkit_saw_the_gpus(host, manifest):
    spec = host.file(CDI_SPEC)
    if manifest["install"]:
        assert spec.exists, f"{CDI_SPEC} was not generated"
        data = yaml.safe_load(spec.content_string)
        assert data["kind"] == "nvidia.com/gpu"
        assert "all" in {device["name"] for device in data["devices"]}
    else:
        # No spec that claims GPUs nobody enumerated.
        assert not spec.exists
        assert not host.file("/usr/bin/nvidia-ctk").exists
