"""The CDI spec comes from the NVIDIA Container Toolkit's own refresh units (toolkit 1.18+), which
regenerate it at boot and after every driver or toolkit change, never from a one-time
`nvidia-ctk cdi generate` that goes stale after a driver upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.ansible.plays import ROLES_DIR, load_yaml

ROLE = ROLES_DIR / "nvidia_container_toolkit"


def _tasks(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key, []))


def _role_tasks() -> list[dict[str, Any]]:
    return [
        task for path in sorted((ROLE / "tasks").glob("*.yml")) for task in _tasks(load_yaml(path))
    ]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split("."))


def test_no_task_generates_a_one_time_spec() -> None:
    for task in _role_tasks():
        command = task.get("ansible.builtin.command") or task.get("ansible.builtin.shell") or {}
        argv = command.get("argv", []) if isinstance(command, dict) else command.split()
        assert not ("cdi" in argv and "generate" in argv), task["name"]


def test_refresh_path_unit_is_enabled_and_started_and_its_service_enabled() -> None:
    units = {}
    for task in _role_tasks():
        module = task.get("ansible.builtin.systemd_service")
        if module and task.get("loop"):
            for item in task["loop"]:
                units[item["name"]] = (module.get("enabled"), item.get("state"))
    assert units["nvidia-cdi-refresh.path"] == (True, "started")
    assert units["nvidia-cdi-refresh.service"][0] is True


def test_the_stale_etc_cdi_spec_is_removed() -> None:
    removals = [
        task["ansible.builtin.file"]
        for task in _role_tasks()
        if task.get("ansible.builtin.file", {}).get("state") == "absent"
    ]
    variables = load_yaml(ROLE / "vars" / "main.yml")
    assert [r["path"] for r in removals] == ["{{ _nvidia_container_toolkit_legacy_cdi_spec }}"]
    assert variables["_nvidia_container_toolkit_legacy_cdi_spec"] == "/etc/cdi/nvidia.yaml"


def test_spec_path_is_where_the_refresh_unit_writes() -> None:
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert defaults["nvidia_container_toolkit_cdi_spec"] == "/var/run/cdi/nvidia.yaml"


def test_pinned_toolkit_ships_the_fixed_refresh_units() -> None:
    """1.18.0 added the units; 1.18.2 fixed their trigger for compressed kernel modules and
    retries when the driver is not ready at boot (NVIDIA's release notes)."""
    pinned = load_yaml(ROLE / "defaults" / "main.yml")["nvidia_container_toolkit_version"]
    assert _version(pinned) >= (1, 18, 2)
