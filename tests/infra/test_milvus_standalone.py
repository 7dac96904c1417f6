"""The milvus role in standalone mode: etcd, MinIO and Milvus as pinned containers, one hardened
unit each, on a private Docker network; only Milvus is published, on named addresses; MinIO's
credentials from the vault in files readable by root only. Without the install switch (CI: no
registry) the units and configuration are written and nothing starts; these tests check both."""

import pytest
import yaml

from tests.infra.artifacts import (
    DOCKER_CLIENT_HARDENING,
    WILDCARDS,
    exec_start,
    is_pinned,
    missing_lines,
    option_values,
    published_addresses,
    role_defaults,
    unit_image,
    unit_values,
)

# The checks both modes share (tests/infra/milvus_access_checks.py), collected here under this
# module's marker.
from tests.infra.milvus_access_checks import (  # noqa: F401
    service_milvus,
    test_the_service_talks_to_milvus_over_tls_with_a_token,
    test_the_service_token_works_over_tls_and_nothing_less_does,
    test_the_service_user_may_not_manage_milvus,
)

pytestmark = pytest.mark.milvus_standalone

CONFIG_DIR = "/etc/milvus"
IMAGES = {
    "milvus-etcd": "milvus_etcd_image",
    "milvus-minio": "milvus_minio_image",
    "milvus": "milvus_image",
}


def _unit(host, name):
    f = host.file(f"/etc/systemd/system/{name}.service")
    assert f.exists, f"{name}.service is missing"
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    return f.content_string


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_is_the_pinned_one(host, name):
    pinned = role_defaults("milvus")[IMAGES[name]]
    assert is_pinned(pinned), f"{pinned} has no pinned tag"
    unit_image(host, exec_start(_unit(host, name)), pinned)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_unit_is_hardened_restarts_and_needs_docker(host, name):
    unit = _unit(host, name)
    assert unit_values(unit, "User") == ["milvus"]
    assert unit_values(unit, "Restart") == ["on-failure"]
    assert "docker.service" in " ".join(unit_values(unit, "Requires")).split()
    missing = missing_lines(unit, DOCKER_CLIENT_HARDENING)
    assert not missing, f"{name}.service lacks {missing}"
    argv = exec_start(_unit(host, name))
    assert option_values(argv, "--network") == ["milvus"]
    assert "no-new-privileges" in option_values(argv, "--security-opt")
    assert "--privileged" not in argv


def test_milvus_starts_after_etcd_and_minio(host):
    requires = " ".join(unit_values(_unit(host, "milvus"), "Requires")).split()
    assert {"milvus-etcd.service", "milvus-minio.service"} <= set(requires)


def test_only_milvus_is_published_and_on_named_addresses(host):
    for name in ("milvus-etcd", "milvus-minio"):
        assert published_addresses(exec_start(_unit(host, name))) == {}, f"{name} is published"
    published = published_addresses(exec_start(_unit(host, "milvus")))
    assert set(published) == {"19530", "9091"}
    for port, addresses in published.items():
        assert "127.0.0.1" in addresses
        assert not addresses & WILDCARDS, f"port {port} published on {addresses}"


@pytest.mark.parametrize("name", ["milvus-etcd", "milvus-minio"])
def test_etcd_and_minio_run_as_the_milvus_user(host, name):
    user = host.user("milvus")
    argv = exec_start(_unit(host, name))
    assert option_values(argv, "--user") == [f"{user.uid}:{user.gid}"]


def test_data_lives_on_the_data_path_owned_by_milvus(host, manifest):
    for sub in ("", "/etcd", "/minio", "/milvus"):
        d = host.file(f"{manifest['data_dir']}/milvus{sub}")
        assert d.is_directory, f"{d.path} is missing"
        assert (d.user, d.group, d.mode) == ("milvus", "milvus", 0o750)


def test_secrets_are_readable_by_root_only_and_not_the_defaults(host):
    directory = host.file(CONFIG_DIR)
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o750)
    for name in ("user.yaml", "minio.env"):
        f = host.file(f"{CONFIG_DIR}/{name}")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), name
    env = dict(
        line.split("=", 1)
        for line in host.file(f"{CONFIG_DIR}/minio.env").content_string.splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert env["MINIO_ROOT_USER"] not in {"", "minioadmin"}
    assert len(env["MINIO_ROOT_PASSWORD"]) >= 8
    assert env["MINIO_ROOT_PASSWORD"] != "minioadmin"
    assert env["MINIO_BROWSER"] == "off"
    config = yaml.safe_load(host.file(f"{CONFIG_DIR}/user.yaml").content_string)
    assert config["etcd"]["endpoints"] == ["milvus-etcd:2379"]
    assert config["minio"]["accessKeyID"] == env["MINIO_ROOT_USER"]
    assert config["minio"]["secretAccessKey"] == env["MINIO_ROOT_PASSWORD"]


def test_system_user_cannot_log_in(host):
    user = host.user("milvus")
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_runs_exactly_when_installed(host, manifest, name):
    service = host.service(name)
    assert service.is_running == manifest["install"]
    assert service.is_enabled == manifest["install"]


def test_minio_credentials_reach_the_container_through_systemd(host):
    """The docker client runs as milvus and cannot read the root-only minio.env: systemd reads
    it (EnvironmentFile=) and `docker run --env NAME` passes each variable."""
    unit = _unit(host, "milvus-minio")
    assert unit_values(unit, "EnvironmentFile") == [f"{CONFIG_DIR}/minio.env"]
    argv = exec_start(unit)
    assert "--env-file" not in argv
    assert {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} <= set(option_values(argv, "--env"))


def test_milvus_authenticates_and_serves_tls_with_the_fleet_files(host):
    config = yaml.safe_load(host.file(f"{CONFIG_DIR}/user.yaml").content_string)
    security = config["common"]["security"]
    assert security["authorizationEnabled"] is True
    assert security["tlsMode"] == 1
    assert str(security["defaultRootPassword"]) != "Milvus"
    assert config["proxy"]["http"]["enabled"] is False
    mounts = option_values(exec_start(_unit(host, "milvus")), "--volume")
    for key in ("serverPemPath", "serverKeyPath", "caPemPath"):
        assert any(m.endswith(f":{config['tls'][key]}:ro") for m in mounts), key
