"""One name per switch and per fact, across the playbooks, roles, inventories and scenarios."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.ansible.plays import ANSIBLE_DIR, REPO, ROLES_DIR, json_ansible_env, tool

# Names the switches had before they got one each; none may come back.
RETIRED_SWITCHES = (
    "ragfleet_has_gpu",
    "ragfleet_data_path",
    "ragfleet_fetch",
    "ragfleet_hardware_checks",
)
# Ansible's own variables (magic, connection, templating): everything else named ansible_* is an
# injected fact, which the roles read through ansible_facts[...] only.
ANSIBLE_OWN_VARIABLES = {
    "ansible_facts",
    "ansible_managed",
    "ansible_python_interpreter",
    "ansible_playbook_python",
    "ansible_host",
    "ansible_connection",
    "ansible_nsenter_pid",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_user",
    "ansible_become",
    "ansible_run_tags",
    "ansible_version",
    "ansible_playbook",  # Molecule's provisioner setting, not a variable
}
SCANNED = [REPO / d for d in ("ansible", "molecule", "inventories", "terraform", "docs")] + [
    REPO / "tests" / d for d in ("infra", "gpu", "ansible")
]


def scanned_files() -> list[Path]:
    suffixes = {".yml", ".yaml", ".j2", ".md", ".py", ".sh", ".tf", ".tftpl", ".hcl"}
    return sorted(
        p
        for directory in SCANNED
        for p in directory.rglob("*")
        if p.suffix in suffixes and p.is_file() and p != Path(__file__)
    )


def test_retired_switch_names_are_gone() -> None:
    found = [
        f"{p.relative_to(REPO)}: {name}"
        for p in scanned_files()
        for name in RETIRED_SWITCHES
        if re.search(rf"\b{name}\b", p.read_text())
    ]
    assert not found, found


def test_facts_are_read_through_ansible_facts_only() -> None:
    found = sorted(
        {
            f"{p.relative_to(REPO)}: {name}"
            for p in scanned_files()
            if p.suffix in {".yml", ".yaml", ".j2"}
            for name in re.findall(r"\bansible_[a-z0-9_]+\b", p.read_text())
            if name not in ANSIBLE_OWN_VARIABLES
        }
    )
    assert not found, found


def test_every_role_install_switch_follows_ragfleet_install() -> None:
    shared = yaml.safe_load((ANSIBLE_DIR / "group_vars" / "all" / "main.yml").read_text())
    switches = sorted(
        f"{p.parent.parent.name}_install"
        for p in ROLES_DIR.glob("*/defaults/main.yml")
        if f"{p.parent.parent.name}_install" in (yaml.safe_load(p.read_text()) or {})
    )
    assert len(switches) >= 10
    for switch in switches:
        assert shared.get(switch) == "{{ ragfleet_install }}", switch


def test_an_inventorys_switches_reach_the_roles_under_their_one_name(tmp_path: Path) -> None:
    """A group var in the inventory is not hidden by the playbook's group_vars, and a host that
    sets nothing gets the defaults."""
    playbooks = tmp_path / "ansible"
    playbooks.mkdir()
    for shared in ("group_vars", "tasks"):
        (playbooks / shared).symlink_to(ANSIBLE_DIR / shared)
    (playbooks / "probe.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "all",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                    "tasks": [
                        {"ansible.builtin.import_tasks": "tasks/inventory_switches.yml"},
                        {
                            "ansible.builtin.debug": {
                                "msg": {
                                    "gpu": "{{ ragfleet_gpu }}",
                                    "extras": "{{ ragfleet_service_extras }}",
                                    "driver_install": "{{ nvidia_driver_install | bool }}",
                                    "cache_dir": "{{ tensorrt_llm_cache_dir }}",
                                }
                            }
                        },
                    ],
                }
            ],
            sort_keys=False,
        )
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {"ragfleet_profile": "small", "private_ip": "10.0.0.5"},
                    "children": {
                        "gpu_inference": {
                            "hosts": {"plain": {}, "cpu-only": {}},
                        },
                        "cpu": {
                            "hosts": {"cpu-only": {}},
                            "vars": {
                                "ragfleet_gpu": False,
                                "ragfleet_install": False,
                                "ragfleet_data_dir": "/data",
                            },
                        },
                    },
                }
            }
        )
    )
    result = subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), str(playbooks / "probe.yml")],
        capture_output=True,
        text=True,
        env=json_ansible_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    seen = {
        host: outcome["msg"]
        for task in report["plays"][0]["tasks"]
        if task["task"]["name"] == ""
        or "debug" in task["task"]["name"].lower()
        or task["task"]["name"] == "ansible.builtin.debug"
        for host, outcome in task["hosts"].items()
        if "msg" in outcome
    }
    assert seen["plain"] == {
        "gpu": True,
        "extras": [],
        "driver_install": True,
        "cache_dir": "/srv/ragfleet/trtllm",
    }
    assert seen["cpu-only"] == {
        "gpu": False,
        "extras": ["local-llm"],
        "driver_install": False,
        "cache_dir": "/data/trtllm",
    }
