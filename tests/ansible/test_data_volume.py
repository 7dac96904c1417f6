"""The EBS data volume Terraform attaches is mounted: found by its volume ID under
/dev/disk/by-id (Nitro puts the ID in the NVMe serial number), formatted only when blank, mounted
without nofail where each host keeps what must outlive it (the model cache, Milvus, Prometheus's
TSDB), and the units that keep data there require the mount. Hosts without an ID skip it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.plays import (
    ANSIBLE_DIR,
    ROLES_DIR,
    group_vars_of,
    load_yaml,
    run_local_play,
)

ROLE = ROLES_DIR / "data_volume"
VOLUME = "vol-0123456789abcdef0"


def _play(tmp_path: Path, tasks: list[dict[str, Any]], **variables: Any) -> dict[str, Any]:
    code, report = run_local_play(tmp_path, {"gather_facts": False, "tasks": tasks}, variables)
    report["rc"] = code
    return report


def _preflight(tmp_path: Path, **variables: Any) -> str:
    """'' when the preflight passes, else the message of the assert that failed."""
    include = {"ansible.builtin.include_role": {"name": "data_volume", "tasks_from": "preflight"}}
    report = _play(tmp_path, [include], **variables)
    if report["rc"] == 0:
        return ""
    results = [r for t in report["plays"][0]["tasks"] for r in t["hosts"].values()]
    failed = [r["msg"] for r in results if r.get("failed")]
    assert failed, report
    return str(failed[0])


def _render(tmp_path: Path, expression: str, **variables: Any) -> Any:
    debug = {"ansible.builtin.debug": {"msg": f"{{{{ {expression} | to_json }}}}"}}
    files = [ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml"]
    merged: dict[str, Any] = {}
    for path in files:
        merged.update(load_yaml(path))
    report = _play(tmp_path, [debug], **{**merged, **variables})
    assert report["rc"] == 0, report
    return json.loads(report["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])


def test_the_volume_is_found_by_its_nitro_nvme_link(tmp_path: Path) -> None:
    device = _render(tmp_path, "_data_volume_device", data_volume_id=VOLUME)
    assert device == "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"


@pytest.mark.parametrize("volume", ["", VOLUME, "vol-0abc1234"])
def test_preflight_accepts_a_volume_id_or_none(tmp_path: Path, volume: str) -> None:
    assert _preflight(tmp_path, data_volume_id=volume) == ""


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"data_volume_id": "/dev/nvme1n1"},
            "data_volume_id must be an EBS volume ID (vol- and 8 to 17 hex digits), or empty on a "
            "host without a volume; got '/dev/nvme1n1'.",
        ),
        (
            {"data_volume_id": VOLUME, "data_volume_mount_options": "defaults,nofail"},
            "data_volume_mount_options must leave out nofail",
        ),
        (
            {"data_volume_id": VOLUME, "data_volume_mount_path": "/"},
            "data_volume_mount_path must be an absolute path of its own",
        ),
    ],
)
def test_preflight_refuses_a_device_name_nofail_or_a_system_path(
    tmp_path: Path, variables: dict[str, Any], message: str
) -> None:
    assert message in _preflight(tmp_path, **variables)


def _configure() -> list[dict[str, Any]]:
    return load_yaml(ROLE / "tasks" / "configure.yml")


def test_filesystem_is_made_without_force_and_mounted_by_the_link_without_nofail() -> None:
    tasks = _configure()
    mkfs = next(
        t["community.general.filesystem"] for t in tasks if "community.general.filesystem" in t
    )
    mount = next(t["ansible.posix.mount"] for t in tasks if "ansible.posix.mount" in t)
    assert mkfs["dev"] == "{{ _data_volume_device }}"
    assert "force" not in mkfs, "a volume holding another filesystem must fail, not be wiped"
    assert mount["src"] == "{{ _data_volume_device }}"
    assert mount["state"] == "mounted"
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert "nofail" not in defaults["data_volume_mount_options"].split(",")
    names = [t["name"] for t in tasks]
    assert names.index("Wait for the volume's device link") < names.index(
        "Make the XFS filesystem on a blank volume"
    )


def test_hosts_without_a_volume_id_skip_install_and_configure() -> None:
    main = load_yaml(ROLE / "tasks" / "main.yml")
    for task in main[1:]:
        assert "data_volume_id | length > 0" in task["when"], task["name"]


def test_units_get_requires_mounts_for_the_mount_path(tmp_path: Path) -> None:
    out = tmp_path / "dropin.conf"
    template = {
        "ansible.builtin.template": {
            "src": str(ROLE / "templates" / "requires-mount.conf.j2"),
            "dest": str(out),
            "mode": "0644",
        },
        "vars": {"item": "tensorrt-llm.service"},
    }
    report = _play(
        tmp_path,
        [template],
        data_volume_id=VOLUME,
        data_volume_mount_path="/srv/ragfleet/trtllm",
        ansible_python_interpreter="{{ ansible_playbook_python }}",
    )
    assert report["rc"] == 0, report
    lines = out.read_text().splitlines()
    assert "[Unit]" in lines
    assert "RequiresMountsFor=/srv/ragfleet/trtllm" in lines


@pytest.mark.parametrize(
    ("host", "path", "units"),
    [
        ("rag-large-inference-1", "/srv/ragfleet/trtllm", ["tensorrt-llm.service"]),
        (
            "rag-large-datastore-1",
            "/srv/ragfleet/milvus",
            [
                "milvus.service",
                "milvus-etcd.service",
                "milvus-minio.service",
                "milvus-lite.service",
            ],
        ),
        (
            "rag-large-monitoring-1",
            "/var/lib/prometheus",
            ["prometheus.service", "prometheus-alertmanager.service"],
        ),
    ],
)
def test_each_group_mounts_what_must_outlive_the_host(
    host: str, path: str, units: list[str]
) -> None:
    got = group_vars_of(
        "example-large",
        host,
        "{'path': data_volume_mount_path, 'units': data_volume_required_by, 'id': data_volume_id}",
    )
    assert got == {"path": path, "units": units, "id": ""}


def test_the_inventorys_volume_id_reaches_the_role() -> None:
    common = load_yaml(ANSIBLE_DIR / "group_vars" / "all" / "main.yml")
    assert common["data_volume_id"] == "{{ ragfleet_data_volume_id | default('') }}"
    assert common["data_volume_install"] == "{{ ragfleet_install }}"


def test_nvme_raid_leaves_the_datastores_ebs_volume_to_this_role() -> None:
    datastore = load_yaml(ANSIBLE_DIR / "group_vars" / "datastore.yml")
    assert "nvme_raid_exclude_models" not in datastore
    nvme_defaults = load_yaml(ROLES_DIR / "nvme_raid" / "defaults" / "main.yml")
    assert "^Amazon Elastic Block Store" in nvme_defaults["nvme_raid_exclude_models"]


def test_site_mounts_the_volume_before_the_roles_that_write_there() -> None:
    plays = {
        p["hosts"]: [r["role"] for r in p.get("roles", [])]
        for p in load_yaml(ANSIBLE_DIR / "site.yml")
    }
    gpu, store, monitoring = plays["gpu_inference"], plays["datastore"], plays["monitoring"]
    assert gpu.index("nvme_raid") < gpu.index("data_volume") < gpu.index("tensorrt_llm")
    assert store.index("nvme_raid") < store.index("data_volume") < store.index("milvus")
    assert monitoring.index("data_volume") < monitoring.index("prometheus")
