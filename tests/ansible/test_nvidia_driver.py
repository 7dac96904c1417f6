"""The nvidia_driver role: a working driver at the floor is kept untouched; otherwise Ubuntu's
580-server driver goes in headless (precompiled signed modules for the running kernel's flavour,
DKMS where none exist), held, nouveau blacklisted, and the host rebooted only when nvidia-smi
still fails; NVSwitch instance types get Fabric Manager. Checked on the role's files and on its
variables as Ansible evaluates them: no GPU here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ansible.plays import (
    ANSIBLE_DIR,
    REPO,
    ROLES_DIR,
    ansible_env,
    load_yaml,
    run,
    tool,
)

ROLE = ROLES_DIR / "nvidia_driver"
TERRAFORM_OUTPUTS = REPO / "terraform" / "outputs.tf"


def _walk(tasks: list[dict[str, Any]], when: tuple[str, ...] = ()) -> Iterator[tuple[dict, tuple]]:
    """Every task with the `when` conditions of the blocks around it."""
    for task in tasks:
        own = task.get("when", [])
        conditions = when + tuple(own if isinstance(own, list) else [own])
        yield task, conditions
        for key in ("block", "rescue", "always"):
            yield from _walk(task.get(key, []), conditions)


def _tasks(name: str) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    return list(_walk(load_yaml(ROLE / "tasks" / name)))


def _evaluate(expression: str, **variables: Any) -> Any:
    """An expression over the role's defaults and vars, as Ansible evaluates it."""
    facts = {"kernel": variables.pop("kernel", "6.8.0-1021-aws")}
    env = ansible_env()
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result = run(
        tool("ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-m",
        "ansible.builtin.debug",
        "-a",
        f"msg={{{{ {expression} | to_json }}}}",
        "-e",
        f"@{ROLE / 'defaults' / 'main.yml'}",
        "-e",
        f"@{ROLE / 'vars' / 'main.yml'}",
        "-e",
        json.dumps({"ansible_facts": facts, **variables}),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    return json.loads(report["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])


def test_precompiled_packages_are_the_580_server_branch_for_the_running_kernel() -> None:
    packages = _evaluate("_nvidia_driver_precompiled_packages", kernel="6.8.0-1021-aws")
    assert packages == [
        "linux-modules-nvidia-580-server-6.8.0-1021-aws",
        "linux-modules-nvidia-580-server-aws",
        "nvidia-headless-no-dkms-580-server",
        "nvidia-utils-580-server",
    ]


def test_generic_kernels_get_the_generic_flavour() -> None:
    assert _evaluate("_nvidia_driver_flavour", kernel="6.8.0-45-generic") == "generic"


def test_dkms_is_the_fallback_with_the_running_kernels_headers() -> None:
    packages = _evaluate("_nvidia_driver_dkms_packages", kernel="6.14.0-1012-aws")
    assert packages == [
        "linux-headers-6.14.0-1012-aws",
        "nvidia-headless-580-server",
        "nvidia-utils-580-server",
    ]


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("p4d.24xlarge", True),
        ("p4de.24xlarge", True),
        ("p5.48xlarge", True),
        ("p5e.48xlarge", True),
        ("p5en.48xlarge", True),
        ("g6.4xlarge", False),
        ("g5.12xlarge", False),
        ("p3.16xlarge", False),
        ("", False),
    ],
)
def test_fabric_manager_exactly_on_nvswitch_instance_types(
    instance_type: str, expected: bool
) -> None:
    got = _evaluate(
        "_nvidia_driver_needs_fabricmanager | bool", nvidia_driver_instance_type=instance_type
    )
    assert got is expected


def test_fabric_manager_can_be_asked_for_on_prem() -> None:
    assert (
        _evaluate("_nvidia_driver_needs_fabricmanager | bool", nvidia_driver_fabricmanager=True)
        is True
    )
    assert _evaluate("_nvidia_driver_fabricmanager_package") == "nvidia-fabricmanager-580"


def test_preflight_asks_nvidia_smi_before_any_assert_on_the_system() -> None:
    names = [task.get("name", "") for task, _ in _tasks("preflight.yml")]
    query = next(i for i, (t, _) in enumerate(_tasks("preflight.yml")) if "command" in str(t))
    system = names.index("Assert a system this role can install the driver on")
    assert query < system
    argv = _tasks("preflight.yml")[query][0]["ansible.builtin.command"]["argv"]
    assert argv[0] == "nvidia-smi"


def test_a_working_driver_skips_install_and_the_reboot() -> None:
    for name in ("install.yml", "configure.yml"):
        for task, conditions in _tasks(name):
            module = {k for k in task if k.startswith("ansible.builtin.")}
            if module & {
                "ansible.builtin.apt",
                "ansible.builtin.reboot",
                "ansible.builtin.command",
            }:
                joined = " ".join(conditions)
                assert (
                    "not _nvidia_driver_working" in joined
                    or "_nvidia_driver_needs_fabricmanager" in joined
                ), f"{name}: {task['name']} runs on a host whose driver already works"


def test_unsupported_systems_are_refused_only_when_an_install_is_due() -> None:
    task = next(t for t, _ in _tasks("preflight.yml") if t["name"].startswith("Assert a system"))
    assert "ansible_facts['distribution'] == 'Ubuntu'" in task["ansible.builtin.assert"]["that"]
    assert "not _nvidia_driver_working" in task["when"]
    assert "Ubuntu 24.04+ only" in " ".join(task["ansible.builtin.assert"]["fail_msg"].split())


def test_reboot_only_when_nvidia_smi_fails_after_the_install() -> None:
    tasks = _tasks("configure.yml")
    names = [t["name"] for t, _ in tasks]
    reboot = next(i for i, (t, _) in enumerate(tasks) if "ansible.builtin.reboot" in t)
    check = names.index("Ask nvidia-smi whether the installed driver answers")
    recheck = names.index("Ask nvidia-smi again after the reboot")
    assert check < reboot < recheck
    assert tasks[check][0]["ansible.builtin.command"]["argv"] == ["nvidia-smi", "-L"]
    assert tasks[reboot][0]["when"] == "_nvidia_driver_installed.rc != 0"
    assert "nvidia_driver_install | bool" in " ".join(tasks[reboot][1])
    blacklist = names.index("Keep nouveau from claiming the GPUs")
    initramfs = names.index("Rebuild the initramfs without nouveau")
    assert blacklist < initramfs < reboot


def test_packages_are_held() -> None:
    held = [t for t, _ in _tasks("install.yml") if "ansible.builtin.dpkg_selections" in t]
    assert held
    assert all(t["ansible.builtin.dpkg_selections"]["selection"] == "hold" for t in held)


def test_nouveau_is_blacklisted() -> None:
    template = (ROLE / "templates" / "blacklist-nouveau.conf.j2").read_text().splitlines()
    assert "blacklist nouveau" in template
    assert "options nouveau modeset=0" in template


def test_site_installs_the_driver_first_on_gpu_hosts() -> None:
    play = next(p for p in load_yaml(ANSIBLE_DIR / "site.yml") if p["hosts"] == "gpu_inference")
    roles = [r["role"] for r in play["roles"]]
    assert roles.index("nvidia_driver") < roles.index("container_runtime")
    assert roles.index("nvidia_driver") < roles.index("nvidia_container_toolkit")
    assert play["roles"][roles.index("nvidia_driver")]["when"] == "ragfleet_gpu"


def test_group_vars_feed_the_install_switch_and_terraforms_instance_type() -> None:
    common = load_yaml(ANSIBLE_DIR / "group_vars" / "all" / "main.yml")
    gpu = load_yaml(ANSIBLE_DIR / "group_vars" / "gpu_inference.yml")
    assert common["nvidia_driver_install"] == "{{ ragfleet_install }}"
    assert gpu["nvidia_driver_instance_type"] == "{{ instance_type | default('') }}"
    assert "instance_type = host.instance_type" in " ".join(TERRAFORM_OUTPUTS.read_text().split())


def test_verify_lists_the_gpus_with_nvidia_smi() -> None:
    play = next(p for p in load_yaml(ANSIBLE_DIR / "verify.yml") if p["hosts"] == "gpu_inference")
    commands = [
        t["ansible.builtin.command"]["argv"]
        for t in play["tasks"]
        if "ansible.builtin.command" in t
    ]
    assert ["nvidia-smi", "-L"] in commands
