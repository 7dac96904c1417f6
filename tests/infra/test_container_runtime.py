"""The container_runtime role: Docker Engine from Docker's repository, pinned and held, with the
daemon.json the role renders. Without the install switch (CI: download.docker.com is unreachable)
the role leaves daemon.json and the repository definition, disabled because no key was fetched;
these tests check exactly that, and the package, hold and service where it was installed. With
container_runtime_source: distribution (the Molecule hosts that run containers) the distribution's
docker.io runs instead, and no third-party repository is left behind."""

import json

import pytest

from tests.infra.artifacts import apt_source_problems, is_held, package_version, role_defaults

pytestmark = pytest.mark.container_runtime

DAEMON_JSON = "/etc/docker/daemon.json"
SOURCES = "/etc/apt/sources.list.d/docker.sources"
KEYRING = "/etc/apt/keyrings/docker.asc"
PACKAGES = ("docker-ce", "docker-ce-cli")


@pytest.fixture(scope="module")
def from_distribution(host) -> bool:
    """container_runtime_source: distribution installed the distribution's docker.io."""
    return package_version(host, "docker.io") is not None


@pytest.fixture(scope="module")
def daemon(host):
    f = host.file(DAEMON_JSON)
    assert f.exists, f"{DAEMON_JSON} is missing"
    return json.loads(f.content_string)


def test_daemon_json_is_root_owned(host):
    f = host.file(DAEMON_JSON)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    directory = host.file("/etc/docker")
    assert (directory.user, directory.mode) == ("root", 0o755)


def test_daemon_uses_the_systemd_cgroup_driver_and_live_restore(daemon):
    assert daemon["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert daemon["live-restore"] is True
    assert daemon["default-cgroupns-mode"] == "private"


def test_daemon_rotates_container_logs(daemon):
    assert daemon["log-driver"] == "json-file"
    assert set(daemon["log-opts"]) == {"max-size", "max-file"}
    assert int(daemon["log-opts"]["max-file"]) >= 1


def test_daemon_keeps_images_on_the_data_path(daemon, manifest):
    assert daemon["data-root"] == f"{manifest['data_dir']}/docker"


def test_gpu_hosts_register_the_nvidia_runtime_without_making_it_the_default(daemon, gpu_host):
    if gpu_host:
        # What `nvidia-ctk runtime configure --runtime=docker` writes: it finds nothing to change.
        assert daemon["runtimes"] == {"nvidia": {"path": "nvidia-container-runtime", "args": []}}
    else:
        assert "nvidia" not in daemon.get("runtimes", {})
    # Only the containers that ask for GPUs (--gpus) get them: etcd, MinIO and Milvus do not.
    assert daemon.get("default-runtime", "runc") == "runc"


def test_repository_is_signed_by_its_own_key_and_enabled_only_with_it(host, from_distribution):
    if from_distribution:
        assert not host.file(SOURCES).exists, "docker.io from the distribution, yet a Docker repo"
        assert not host.file(KEYRING).exists
        return
    problems = apt_source_problems(host, SOURCES, KEYRING)
    assert not problems, "\n".join(problems)


def test_repository_matches_the_distribution(host, from_distribution):
    if from_distribution:
        assert host.system_info.distribution in {"debian", "ubuntu"}
        return
    fields = host.file(SOURCES).content_string
    codename = host.system_info.codename
    distribution = host.system_info.distribution
    assert f"URIs: https://download.docker.com/linux/{distribution}" in fields
    assert f"Suites: {codename}" in fields
    assert "Components: stable" in fields
    assert host.system_info.arch in {"x86_64", "aarch64"}


def test_installed_exactly_when_the_repository_is_enabled(host, manifest, from_distribution):
    if from_distribution:
        assert manifest["install"]
        for name in PACKAGES:
            assert package_version(host, name) is None, (
                f"{name} beside the distribution's docker.io"
            )
        return
    enabled = "Enabled: yes" in host.file(SOURCES).content_string
    assert enabled == manifest["install"]
    pinned = role_defaults("container_runtime")["container_runtime_docker_version"]
    for name in PACKAGES:
        version = package_version(host, name)
        if enabled:
            assert version, f"{name} is not installed"
            assert version.startswith(f"5:{pinned}-1~"), f"{name} {version}, pinned {pinned}"
            assert is_held(host, name), f"{name} is not held at the pinned version"
        else:
            assert version is None, f"{name} {version} installed without the role's repository"


def test_docker_runs_exactly_when_installed(host, manifest):
    docker = host.service("docker")
    if manifest["install"]:
        assert docker.is_running
        assert docker.is_enabled
    else:
        assert not host.file("/usr/bin/dockerd").exists
        assert not docker.is_running
