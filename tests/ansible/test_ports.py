"""Ansible's ragfleet_ports is hardware_profiles/ports.yaml, the file Terraform's security groups
take their ports from (tests/terraform/test_ports.py): rendered by a local play over a copy of
group_vars/all with every port moved, the variable and the role settings built on it follow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.ansible.plays import ANSIBLE_DIR, REPO, run_local_play


def test_ragfleet_ports_is_read_from_ports_yaml(tmp_path: Path) -> None:
    # ragfleet_repo_dir is the playbook directory's parent: here tmp_path, as the repository.
    shutil.copytree(ANSIBLE_DIR / "group_vars" / "all", tmp_path / "ansible" / "group_vars" / "all")
    (tmp_path / "hardware_profiles").mkdir()
    real = yaml.safe_load((REPO / "hardware_profiles" / "ports.yaml").read_text())
    moved = {name: port + 10000 for name, port in real.items()}
    (tmp_path / "hardware_profiles" / "ports.yaml").write_text(yaml.safe_dump(moved))

    expression = (
        "{'ports': ragfleet_ports, 'node_exporter': exporters_node_exporter_port,"
        " 'grafana': grafana_http_port, 'alertmanager': prometheus_alertmanager_port}"
    )
    play = {
        "gather_facts": False,
        "tasks": [{"ansible.builtin.debug": {"msg": f"{{{{ {expression} | to_json }}}}"}}],
    }
    code, report = run_local_play(tmp_path / "ansible", play, {})
    assert code == 0, json.dumps(report)[-3000:]
    got = json.loads(report["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])

    assert got["ports"] == moved
    assert int(got["node_exporter"]) == moved["node_exporter"]
    assert int(got["grafana"]) == moved["grafana"]
    assert int(got["alertmanager"]) == moved["alertmanager"]
