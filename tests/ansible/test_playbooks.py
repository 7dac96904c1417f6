"""The playbooks parse with every inventory, and site.yml applies the roles to their groups in
the order the services need."""

from __future__ import annotations

import pytest

from tests.ansible.plays import ANSIBLE_DIR, INVENTORIES, REPO, load_yaml, run, tool

PLAYBOOKS = ["site.yml", "verify.yml", "backup.yml", "restore.yml"]


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax_checks_against_inventory(playbook: str, inventory: str) -> None:
    result = run(
        tool("ansible-playbook"),
        "--syntax-check",
        "-i",
        REPO / "inventories" / inventory / "hosts.yml",
        ANSIBLE_DIR / playbook,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_wires_the_roles_by_group() -> None:
    plays = {
        play["hosts"]: [r["role"] for r in play.get("roles", [])]
        for play in load_yaml(ANSIBLE_DIR / "site.yml")
    }
    assert plays["gpu_inference"] == [
        "nvidia_driver",
        "nvme_raid",
        "data_volume",
        "container_runtime",
        "nvidia_container_toolkit",
        "tensorrt_llm",
        "ragfleet_service",
    ]
    assert plays["datastore"] == [
        "nvme_raid",
        "data_volume",
        "container_runtime",
        "redis",
        "milvus",
    ]
    assert plays["monitoring"] == ["data_volume", "prometheus", "grafana"]
    assert plays["gateway"] == ["gateway"]
    assert "exporters" in plays["all"]
    order = [play["hosts"] for play in load_yaml(ANSIBLE_DIR / "site.yml")]
    assert order.index("datastore") < order.index("gpu_inference"), (
        "the service's /readyz needs Milvus first"
    )
