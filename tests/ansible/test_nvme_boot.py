"""The NVMe data filesystem survives an EC2 stop/start, which hands the instance store back blank:
a boot-time oneshot unit re-creates the array and the labelled XFS before the filesystem is
mounted, the mount has no nofail (a missing filesystem stops what needs it instead of letting it
write to the root filesystem), and Docker, Milvus, TensorRT-LLM and the service require the
mount."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.plays import (
    ANSIBLE_DIR,
    ROLES_DIR,
    group_vars_of,
    load_yaml,
    run,
    tool,
)

ROLE = ROLES_DIR / "nvme_raid"
UNIT = "ragfleet-nvme-data.service"


def _render(tmp_path: Path, **variables: Any) -> dict[str, str]:
    """The role's script, unit and drop-in, rendered with its defaults and vars."""
    merged: dict[str, Any] = {}
    for path in (ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml"):
        merged.update(load_yaml(path))
    merged.update(
        {"_nvme_raid_use_md": True, "_nvme_raid_selected": ["/dev/nvme1n1", "/dev/nvme2n1"]}
    )
    merged.update(variables)
    templates = {
        "script": "ragfleet-nvme-data.sh.j2",
        "unit": f"{UNIT}.j2",
        "dropin": "requires-mount.conf.j2",
    }
    tasks = [
        {
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / src),
                "dest": str(tmp_path / name),
                "mode": "0644",
            },
            "vars": {"item": "docker.service"},
        }
        for name, src in templates.items()
    ]
    playbook = tmp_path / "render.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
        )
    )
    merged["ansible_python_interpreter"] = "{{ ansible_playbook_python }}"
    result = run(tool("ansible-playbook"), "-i", "localhost,", playbook, "-e", json.dumps(merged))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return {name: (tmp_path / name).read_text() for name in templates}


def _unit_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line and not line.startswith("#")]


def test_boot_unit_is_a_oneshot_that_stays_active_before_local_mounts(tmp_path: Path) -> None:
    lines = _unit_lines(_render(tmp_path)["unit"])
    for line in (
        "Type=oneshot",
        "RemainAfterExit=yes",
        "DefaultDependencies=no",
        "ExecStart=/usr/local/sbin/ragfleet-nvme-data",
        "WantedBy=local-fs.target",
    ):
        assert line in lines, line


def test_mount_waits_for_the_boot_unit_by_label_without_nofail() -> None:
    variables = load_yaml(ROLE / "vars" / "main.yml")
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert "nofail" not in defaults["nvme_raid_mount_options"].split(",")
    assert variables["_nvme_raid_fstab_options"].endswith(
        ",x-systemd.requires={{ _nvme_raid_unit }}"
    )
    assert variables["_nvme_raid_unit"] == UNIT
    mounts = [
        task["ansible.posix.mount"]
        for task in load_yaml(ROLE / "tasks" / "configure.yml")
        for task in [task, *task.get("block", [])]
        if "ansible.posix.mount" in task
    ]
    assert len(mounts) == 1
    assert mounts[0]["src"] == "LABEL={{ nvme_raid_fs_label }}"
    assert mounts[0]["opts"] == "{{ _nvme_raid_fstab_options }}"


def test_the_unit_runs_before_the_mount_is_made() -> None:
    block = next(t for t in load_yaml(ROLE / "tasks" / "configure.yml") if "block" in t)["block"]
    names = [t["name"] for t in block]
    run_unit = next(i for i, t in enumerate(block) if "ansible.builtin.systemd_service" in t)
    mount = next(i for i, t in enumerate(block) if "ansible.posix.mount" in t)
    assert run_unit < mount, names
    assert block[run_unit]["ansible.builtin.systemd_service"]["enabled"] is True


def test_preflight_refuses_nofail() -> None:
    tasks = {t["name"]: t for t in load_yaml(ROLE / "tasks" / "preflight.yml")}
    that = tasks["Assert the mount options leave out nofail"]["ansible.builtin.assert"]["that"]
    assert that == ["'nofail' not in nvme_raid_mount_options.split(',')"]


def test_the_array_is_recorded_by_name_so_a_recreated_array_still_matches() -> None:
    block = next(t for t in load_yaml(ROLE / "tasks" / "configure.yml") if "block" in t)["block"]
    line = next(t for t in block if "ansible.builtin.lineinfile" in t)["ansible.builtin.lineinfile"]
    assert (
        line["line"] == "ARRAY {{ nvme_raid_md_device }} metadata=1.2 name={{ nvme_raid_md_name }}"
    )


def test_script_recreates_only_blank_devices_and_labels_the_filesystem(tmp_path: Path) -> None:
    script = _render(tmp_path)["script"]
    assert script.startswith("#!/bin/bash")
    assert "set -euo pipefail" in script
    assert 'mdadm --create "$md_device" --run --level=0' in script
    assert 'mkfs.xfs -L "$label"' in script
    assert "refusing" in script  # foreign signatures stop it
    assert "--force" not in script
    assert "mkfs.xfs -f" not in script
    bash = shutil.which("bash")
    assert bash
    check = subprocess.run([bash, "-n", str(tmp_path / "script")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_drop_in_requires_the_mount_path(tmp_path: Path) -> None:
    dropin = _unit_lines(_render(tmp_path, nvme_raid_mount_path="/srv/ragfleet")["dropin"])
    assert dropin == ["[Unit]", "RequiresMountsFor=/srv/ragfleet"]


@pytest.mark.parametrize(
    ("host", "units"),
    [
        ("rag-large-inference-1", ["docker.service", "tensorrt-llm.service", "ragfleet.service"]),
        (
            "rag-large-datastore-1",
            [
                "docker.service",
                "milvus.service",
                "milvus-etcd.service",
                "milvus-minio.service",
                "milvus-lite.service",
            ],
        ),
    ],
)
def test_what_keeps_data_there_requires_the_mount(host: str, units: list[str]) -> None:
    assert group_vars_of("example-large", host, "nvme_raid_required_by") == units


def test_the_deployment_guide_says_what_stop_start_loses_and_what_rebuilds_it() -> None:
    guide = " ".join((ANSIBLE_DIR.parent / "docs" / "deployment.md").read_text().split())
    assert UNIT in guide
    for phrase in ("stop/start", "instance store", "re-download", "EBS"):
        assert phrase in guide, phrase


def test_env_has_no_stale_nofail_in_group_vars() -> None:
    for path in (ANSIBLE_DIR / "group_vars").rglob("*.yml"):
        assert "nofail" not in path.read_text(), path


# --- the boot script itself, on loop devices (root; no md driver here, so one device) ---------


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Blank 320 MiB loop devices (XFS needs 300 MiB), detached afterwards."""
    tools = ("losetup", "mkfs.xfs", "blkid", "mkfs.ext4")
    missing = [name for name in tools if not shutil.which(name)]
    if os.geteuid() != 0 or missing:
        pytest.skip(
            f"needs root and {', '.join(tools)} (scripts/install-system-deps.sh);"
            f" missing: {missing}"
        )
    attached: list[str] = []

    def attach() -> str:
        backing = tmp_path / f"disk{len(attached)}.img"
        with backing.open("wb") as f:
            f.truncate(320 * 1024 * 1024)
        device = subprocess.run(
            ["losetup", "--find", "--show", str(backing)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        attached.append(device)
        return device

    yield attach
    for device in attached:
        subprocess.run(["losetup", "--detach", device], check=False)


def _script_for(tmp_path: Path, device: str) -> Path:
    rendered = _render(
        tmp_path,
        _nvme_raid_use_md=False,
        _nvme_raid_selected=[device],
        nvme_raid_devices=[device],
        nvme_raid_fs_label="rftest",
    )
    script = tmp_path / "ragfleet-nvme-data"
    script.write_text(rendered["script"])
    script.chmod(0o755)
    return script


def _blkid(device: str, tag: str) -> str:
    return subprocess.run(
        ["blkid", "-p", "-s", tag, "-o", "value", device],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def test_script_makes_the_labelled_xfs_on_a_blank_device_then_leaves_it(
    tmp_path: Path, loop_device: Callable[[], str]
) -> None:
    device = loop_device()
    script = _script_for(tmp_path, device)
    first = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert (_blkid(device, "TYPE"), _blkid(device, "LABEL")) == ("xfs", "rftest")
    uuid = _blkid(device, "UUID")
    again = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "making XFS" not in again.stderr
    assert _blkid(device, "UUID") == uuid, "a second boot re-made the filesystem"


def test_script_refuses_a_device_that_holds_another_filesystem(
    tmp_path: Path, loop_device: Callable[[], str]
) -> None:
    device = loop_device()
    subprocess.run(["mkfs.ext4", "-q", "-L", "precious", device], check=True, capture_output=True)
    script = _script_for(tmp_path, device)
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert (_blkid(device, "TYPE"), _blkid(device, "LABEL")) == ("ext4", "precious")


def test_script_labels_an_unlabelled_xfs_instead_of_remaking_it(
    tmp_path: Path, loop_device: Callable[[], str]
) -> None:
    device = loop_device()
    subprocess.run(["mkfs.xfs", "-q", device], check=True, capture_output=True)
    uuid = _blkid(device, "UUID")
    script = _script_for(tmp_path, device)
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert _blkid(device, "LABEL") == "rftest"
    assert _blkid(device, "UUID") == uuid
