"""The example and local inventories list the four groups, and every host a hardware profile and
a private address."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.ansible.plays import INVENTORIES, REPO, run, tool

GROUPS = {"gpu_inference", "datastore", "monitoring", "gateway"}


def inventory_list(inventory: str) -> dict[str, Any]:
    result = run(
        tool("ansible-inventory"), "-i", REPO / "inventories" / inventory / "hosts.yml", "--list"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_lists_the_four_groups_with_hosts(inventory: str) -> None:
    listing = inventory_list(inventory)
    assert set(listing["all"]["children"]) >= GROUPS
    for group in GROUPS:
        assert listing[group]["hosts"], f"{inventory}: group {group} has no host"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_names_a_profile_and_private_addresses(inventory: str) -> None:
    hostvars = inventory_list(inventory)["_meta"]["hostvars"]
    for host, variables in hostvars.items():
        profile = variables["ragfleet_profile"]
        assert (REPO / "hardware_profiles" / f"{profile}.yaml").is_file(), (
            f"{host}: unknown profile {profile}"
        )
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", variables["private_ip"]), f"{host}: private_ip"


def test_large_inventory_has_two_inference_hosts() -> None:
    assert len(inventory_list("example-large")["gpu_inference"]["hosts"]) >= 2


def test_local_inventory_runs_everything_on_localhost_without_a_gpu() -> None:
    listing = inventory_list("local")
    for group in GROUPS:
        assert listing[group]["hosts"] == ["localhost"]
    assert listing["_meta"]["hostvars"]["localhost"]["ansible_connection"] == "local"
    assert listing["_meta"]["hostvars"]["localhost"]["ragfleet_gpu"] is False
