"""The systemd units the roles write: all rendered, hardened and unprivileged, passing secrets by
name, and drop-ins on packaged units that can join the TLS group."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.ansible.plays import ROLES_DIR, load_yaml

# Boot-time units that build block devices before local filesystems mount: root by necessity
# (mdadm, mkfs), checked in test_nvme_boot.py.
ROOT_BOOT_UNITS = {"ragfleet-nvme-data.service"}


def container_unit_names() -> set[str]:
    """Units the common role writes from the container descriptions in the roles' vars/main.yml."""
    names = set()
    for path in ROLES_DIR.glob("*/vars/main.yml"):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key.endswith("_container") and isinstance(value, dict):
                names.add(f"{value['name']}.service")
            elif key.endswith("_containers"):
                names.update(f"{item['name']}.service" for item in value)
    return names


# Units the roles write themselves (Redis and HAProxy use the packages' hardened units).
UNIT_TEMPLATES = sorted(
    {
        p.name.removesuffix(".j2")
        for p in ROLES_DIR.glob("*/templates/*.service.j2")
        if p.name.removesuffix(".j2") not in ROOT_BOOT_UNITS and p.parts[-3] != "common"
    }
    | container_unit_names()
)


def test_the_common_start_runs_pending_restarts_before_starting() -> None:
    """A start followed at once by the handler's restart leaves a half-created container whose
    name the restarted unit collides with: the pending restart must run first and alone."""
    tasks = load_yaml(ROLES_DIR / "common" / "tasks" / "start.yml")
    flush = next(
        i for i, task in enumerate(tasks) if task.get("ansible.builtin.meta") == "flush_handlers"
    )
    start = next(
        i
        for i, task in enumerate(tasks)
        if task.get("ansible.builtin.systemd_service", {}).get("state") == "started"
    )
    assert flush < start


# Units started before anything that could be pending for them: Docker (before its containers),
# boot-time units of the driver, the toolkit and the NVMe array.
STARTED_OUTSIDE_COMMON = {
    "container_runtime",
    "nvidia_container_toolkit",
    "nvidia_driver",
    "nvme_raid",
}


@pytest.mark.parametrize(
    "role",
    sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir() and p.name != "common"),
)
def test_server_roles_start_through_the_common_start(role: str) -> None:
    """One way to start a server and wait for it: the common role's start.yml."""
    text = "\n".join(p.read_text() for p in (ROLES_DIR / role / "tasks").glob("*.yml"))
    starts_directly = re.search(r"^\s+state: started$", text, re.MULTILINE) is not None
    assert starts_directly == (role in STARTED_OUTSIDE_COMMON), (
        f"{role}: start servers with tasks_from: start.yml of the common role"
    )


def test_every_unit_template_is_rendered_by_the_render_playbook(rendered: Path) -> None:
    assert sorted(p.name for p in rendered.glob("*.service")) == UNIT_TEMPLATES


@pytest.mark.parametrize("unit", UNIT_TEMPLATES)
def test_container_units_never_make_the_docker_client_read_a_secret_file(
    rendered: Path, unit: str
) -> None:
    """`docker run --env-file F` opens F in the client, which runs as the unit's unprivileged
    user and may not read the root-only file: systemd reads it instead, docker gets names."""
    text = (rendered / unit).read_text()
    assert "--env-file" not in text, f"{unit}: the docker client cannot read a root-only env file"


@pytest.mark.parametrize(
    ("unit", "env_file"),
    [("milvus-minio.service", "minio.env"), ("tensorrt-llm.service", "tensorrt-llm.env")],
)
def test_container_units_pass_every_variable_of_their_env_file_by_name(
    rendered: Path, unit: str, env_file: str
) -> None:
    text = (rendered / unit).read_text()
    assert re.search(rf"^EnvironmentFile=/etc/\S+/{re.escape(env_file)}$", text, re.MULTILINE)
    names = set(re.findall(r"^([A-Z_]+)=", (rendered / env_file).read_text(), re.MULTILINE))
    passed = set(re.findall(r"--env ([A-Z_]+)", text))
    assert names, f"{env_file} sets no variable"
    assert names <= passed, f"{unit} does not pass {sorted(names - passed)}"


@pytest.mark.parametrize("unit", UNIT_TEMPLATES)
def test_systemd_units_are_hardened_and_unprivileged(rendered: Path, unit: str) -> None:
    text = (rendered / unit).read_text()
    for directive in (
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=",
        "CapabilityBoundingSet=",
    ):
        assert directive in text, f"{unit}: {directive} missing"
    user = re.search(r"^User=(\S+)", text, re.M)
    assert user, f"{unit}: runs as root"
    assert user.group(1) != "root", unit


# Drop-ins that add the TLS group to a packaged unit: (package unit, the drop-in as written).
TLS_GROUP_DROP_INS = {
    "redis-server": lambda: next(
        task["ansible.builtin.copy"]["content"]
        for task in load_yaml(ROLES_DIR / "redis/tasks/configure.yml")
        if task["name"] == "Let Redis read the TLS key"
    ),
    "prometheus": lambda: (ROLES_DIR / "prometheus/templates/tls.conf.j2").read_text(),
}


@pytest.mark.parametrize("unit", sorted(TLS_GROUP_DROP_INS))
def test_a_drop_in_adding_the_tls_group_turns_off_the_packages_private_users(unit: str) -> None:
    """Debian's redis-server.service and prometheus.service set PrivateUsers=true: that user
    namespace maps only the unit's own user and group, so systemd cannot add the TLS group, and
    the unit fails (216/GROUP) wherever user namespaces work: real hosts, unprivileged
    containers."""
    packaged = Path(f"/lib/systemd/system/{unit}.service")
    assert packaged.is_file(), f"{packaged} is missing: `make system-deps` installs the package"
    drop_in = TLS_GROUP_DROP_INS[unit]()
    assert "SupplementaryGroups=" in drop_in
    if re.search(r"^PrivateUsers=(true|yes|1)$", packaged.read_text(), re.M):
        assert re.search(r"^\s*PrivateUsers=false$", drop_in, re.M), drop_in
