"""``ragfleet provision`` end to end against moto on loopback: apply, re-plan without drift, read
the inventory with ansible-inventory, destroy. moto is started here and always stopped.

Nothing leaves the machine: the provider talks to moto on 127.0.0.1 for EC2, STS, IAM and DLM, the
metadata service is disabled, and credentials are moto's fake ones. stdin is never a terminal, so
apply and destroy run with --yes (without it they refuse, which is tested too).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragfleet.adapters.free_port import free_loopback_port

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent
MOTO_AMI_FILTER = "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*"
SSH_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY ci@ragfleet"
)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"moto_server did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server on a free loopback port, stopped whatever happens in the tests."""
    moto = shutil.which("moto_server", path=str(VENV_BIN)) or shutil.which("moto_server")
    if moto is None:
        pytest.fail("moto_server not installed: pip install -e '.[test]'")
    port = free_loopback_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provision")


def ragfleet(
    action: str, endpoint: str, workspace: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``python -m ragfleet provision ACTION`` with moto's endpoint, fake credentials, tmp dirs."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CACHE_HOME": str(workspace / "cache"),
    }
    env.pop("AWS_PROFILE", None)
    command = [
        sys.executable, "-m", "ragfleet", "provision", action, *extra,
        "--profile", "small",
        "--name", "rf-moto",
        "--state-dir", str(workspace / "state"),
        "--inventories-dir", str(workspace / "inventories"),
        # The test-only hook that points the provider at moto (never set in production).
        "--var", "testing=" + json.dumps({"aws_endpoint_url": endpoint}),
        "--var", 'admin_cidrs=["203.0.113.0/24"]',
        "--var", 'client_cidrs=["198.51.100.0/24"]',
        "--var", f"ssh_public_key={SSH_KEY}",
        "--var", f"ami_name_filter={MOTO_AMI_FILTER}",
        # moto implements neither detailed monitoring, nor DLM, nor reading back an instance
        # launched with an explicit public-IP choice (its security groups vanish): with
        # testing.aws_endpoint_url set, only public hosts send one, so every host is private here.
        "--var", "detailed_monitoring=false",
        "--var", "public_ip_roles=[]",
        "--var", "datastore_snapshots_enabled=false",
        # Protected, the datastore volume would (rightly) stop the destroy at the end.
        "--var", "datastore_volume_deletion_protection=false",
    ]  # fmt: skip
    return subprocess.run(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def applied(moto_endpoint: str, workspace: Path) -> Iterator[Path]:
    """Apply once for the module; destroy afterwards even when a test failed."""
    result = ragfleet("apply", moto_endpoint, workspace, "--yes")
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield workspace / "inventories" / "rf-moto" / "hosts.yml"
    finally:
        ragfleet("destroy", moto_endpoint, workspace, "--yes")


def test_apply_writes_the_inventory(applied: Path) -> None:
    assert applied.is_file()


def test_apply_without_yes_off_a_terminal_is_refused(
    applied: Path, moto_endpoint: str, workspace: Path
) -> None:
    result = ragfleet("apply", moto_endpoint, workspace)
    assert result.returncode != 0
    assert "refusing to apply without confirmation" in result.stderr
    assert result.stdout == ""


def test_replan_after_apply_shows_no_drift(
    applied: Path, moto_endpoint: str, workspace: Path
) -> None:
    result = ragfleet("plan", moto_endpoint, workspace, "--detailed-exitcode")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ansible_reads_the_inventory_with_hosts_grouped_by_role(applied: Path) -> None:
    command = [str(VENV_BIN / "ansible-inventory"), "-i", str(applied), "--list"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    inventory = json.loads(result.stdout)
    assert inventory["gpu_inference"]["hosts"] == ["rf-moto-inference-1"]
    assert inventory["datastore"]["hosts"] == ["rf-moto-datastore-1"]
    assert inventory["monitoring"]["hosts"] == ["rf-moto-monitoring-1"]
    assert inventory["gateway"]["hosts"] == ["rf-moto-gateway-1"]
    hostvars = inventory["_meta"]["hostvars"]["rf-moto-inference-1"]
    assert hostvars["ragfleet_profile"] == "small"
    assert hostvars["instance_type"] == "g6.4xlarge"
    assert hostvars["ansible_host"].startswith("10.42.0.")
    assert hostvars["ansible_host"] == hostvars["private_ip"]


def test_inventory_names_each_hosts_ebs_data_volume(applied: Path) -> None:
    """The data_volume role finds the volume by this ID under /dev/disk/by-id."""
    command = [str(VENV_BIN / "ansible-inventory"), "-i", str(applied), "--list"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    hostvars = json.loads(result.stdout)["_meta"]["hostvars"]
    for host in ("rf-moto-inference-1", "rf-moto-datastore-1", "rf-moto-monitoring-1"):
        assert re.fullmatch(r"vol-[0-9a-f]+", hostvars[host]["ragfleet_data_volume_id"]), host
    assert "ragfleet_data_volume_id" not in hostvars["rf-moto-gateway-1"]


def test_destroy_removes_hosts_and_inventory(
    applied: Path, moto_endpoint: str, workspace: Path
) -> None:
    result = ragfleet("destroy", moto_endpoint, workspace, "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # A saved destroy plan is applied by `terraform apply`, which reports it so.
    assert re.search(
        r"Apply complete! Resources: 0 added, 0 changed, [1-9]\d* destroyed", result.stdout
    )
    assert not applied.exists()
