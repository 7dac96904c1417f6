"""Terraform runs offline: a CLI config pointing at the provider mirror, a throwaway data dir."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ragfleet.provision.mirror import find_mirror, write_cli_config

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for terraform: mirror-only CLI config, data dir outside the repo, no IMDS."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not installed: see docs/terraform.md")
    work = tmp_path_factory.mktemp("terraform")
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(write_cli_config(work / "cli.tfrc", find_mirror())),
        "TF_DATA_DIR": str(work / "data"),
        "TF_IN_AUTOMATION": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RAGFLEET_TEST_STATE": str(work / "terraform.tfstate"),
    }
    return env


def run_terraform(
    env: dict[str, str], *args: str, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args],
        cwd=TERRAFORM_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def initialised(terraform_env: dict[str, str]) -> dict[str, str]:
    """``terraform init`` from the mirror, checked against the committed lock file."""
    result = run_terraform(
        terraform_env,
        "init",
        "-input=false",
        "-no-color",
        "-lockfile=readonly",
        f"-backend-config=path={terraform_env['RAGFLEET_TEST_STATE']}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return terraform_env
