"""The security group rules take their ports from hardware_profiles/ports.yaml, the file Ansible's
ragfleet_ports is read from (tests/ansible/test_ports.py): in a copy of the configuration with
every service moved to another port, the rules move with them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.terraform.conftest import REPO, TERRAFORM_DIR

# Each service rule of modules/security_groups and the ports.yaml key it opens.
RULE_PORTS = {
    "common_node_exporter": "node_exporter",
    "inference_service": "service",
    "inference_service_scrape": "service",
    "inference_dcgm_exporter": "dcgm_exporter",
    "datastore_redis": "redis",
    "datastore_redis_exporter": "redis_exporter",
    "datastore_milvus": "milvus",
    "datastore_milvus_metrics": "milvus_metrics",
    "monitoring_grafana": "grafana",
    "monitoring_prometheus": "prometheus",
    "monitoring_alertmanager": "alertmanager",
    "gateway_https": "gateway_https",
}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY t@rf"
VARIABLES = [
    "-var=name=rf-test",
    "-var=profile=small",
    '-var=admin_cidrs=["203.0.113.0/24"]',
    '-var=client_cidrs=["198.51.100.0/24"]',
    f"-var=ssh_public_key={SSH_KEY}",
]


def moved_ports(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """terraform/ and hardware_profiles/ copied side by side, every port in ports.yaml + 10000."""
    shutil.copytree(
        TERRAFORM_DIR,
        tmp_path / "terraform",
        ignore=shutil.ignore_patterns(".terraform", "examples", "tests"),
    )
    shutil.copytree(REPO / "hardware_profiles", tmp_path / "hardware_profiles")
    ports_file = tmp_path / "hardware_profiles" / "ports.yaml"
    ports = {name: port + 10000 for name, port in yaml.safe_load(ports_file.read_text()).items()}
    ports_file.write_text(yaml.safe_dump(ports))
    return tmp_path / "terraform", ports


def terraform(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_port_in_the_file_names_a_tcp_port() -> None:
    ports = yaml.safe_load((REPO / "hardware_profiles" / "ports.yaml").read_text())
    assert set(RULE_PORTS.values()) <= set(ports)
    assert all(isinstance(port, int) and 1 <= port <= 65535 for port in ports.values()), ports


def test_security_group_rules_follow_ports_yaml(
    terraform_env: dict[str, str], tmp_path: Path
) -> None:
    config, ports = moved_ports(tmp_path)
    env = {**terraform_env, "TF_DATA_DIR": str(tmp_path / "data")}
    init = terraform(
        env, config, "init", "-input=false", "-no-color", "-lockfile=readonly",
        f"-backend-config=path={tmp_path / 'terraform.tfstate'}",
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr

    console = subprocess.run(
        ["terraform", "console", *VARIABLES],
        input="jsonencode(module.security_groups.ingress_rules)\n",
        cwd=config,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert console.returncode == 0, console.stdout + console.stderr
    rules = json.loads(json.loads(console.stdout))

    opened = {rule: rules[rule]["port"] for rule in RULE_PORTS}
    assert opened == {rule: ports[service] for rule, service in RULE_PORTS.items()}
    # SSH belongs to the hosts, not to a service of the file.
    assert rules["common_ssh"]["port"] == 22
