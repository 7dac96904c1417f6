"""ragfleet supports Debian 12+ and Ubuntu 24.04+ and says so everywhere: the service needs Python
3.11 or newer, and Ubuntu 22.04's python3 is 3.10. site.yml refuses anything else before it
changes a host, and no role claims a release the service cannot run on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.ansible.plays import ANSIBLE_DIR, ROLES_DIR, run, tool

ASSERT_TASKS = ANSIBLE_DIR / "tasks" / "assert_supported_system.yml"
# Their meta/main.yml is edited elsewhere; they join this list once it drops jammy.
PLATFORM_CHECKED_ROLES = sorted(p.parent.parent.name for p in ROLES_DIR.glob("*/meta/main.yml"))


def _assert_on(distribution: str, version: str, tmp_path: Path) -> bool:
    playbook = tmp_path / "assert.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [{"ansible.builtin.include_tasks": str(ASSERT_TASKS)}],
                }
            ]
        )
    )
    facts = {"distribution": distribution, "distribution_version": version}
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        playbook,
        "-e",
        json.dumps({"ansible_facts": facts}),
    )
    if result.returncode == 0:
        return True
    assert "ragfleet supports Debian 12 or newer" in result.stdout, result.stdout + result.stderr
    return False


@pytest.mark.parametrize(
    ("distribution", "version"),
    [("Debian", "12.7"), ("Debian", "13.1"), ("Ubuntu", "24.04"), ("Ubuntu", "26.04")],
)
def test_supported_systems_pass(distribution: str, version: str, tmp_path: Path) -> None:
    assert _assert_on(distribution, version, tmp_path)


@pytest.mark.parametrize(
    ("distribution", "version"),
    [("Ubuntu", "22.04"), ("Debian", "11.9"), ("CentOS", "9"), ("Ubuntu", "20.04")],
)
def test_older_or_other_systems_are_refused(
    distribution: str, version: str, tmp_path: Path
) -> None:
    assert not _assert_on(distribution, version, tmp_path)


def test_site_checks_the_system_first_on_every_host() -> None:
    first = yaml.safe_load((ANSIBLE_DIR / "site.yml").read_text())[0]
    assert first["hosts"] == "all"
    assert "always" in first["tags"]
    includes = [
        task["ansible.builtin.include_tasks"]
        for task in first["tasks"]
        if "ansible.builtin.include_tasks" in task
    ]
    assert "tasks/assert_supported_system.yml" in includes


@pytest.mark.parametrize("role", PLATFORM_CHECKED_ROLES)
def test_roles_claim_no_ubuntu_release_before_24_04(role: str) -> None:
    meta = yaml.safe_load((ROLES_DIR / role / "meta" / "main.yml").read_text())
    for platform in meta["galaxy_info"].get("platforms", []):
        if platform["name"] == "Ubuntu":
            assert not {"focal", "jammy"} & set(platform["versions"]), role


def test_site_claims_no_ubuntu_22_04_support() -> None:
    header = (ANSIBLE_DIR / "site.yml").read_text().splitlines()[1]
    assert "24.04" in header
    assert "22.04" not in header
