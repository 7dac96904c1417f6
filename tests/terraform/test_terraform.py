"""The Terraform configuration is formatted, valid, passes its own tests and checkov, offline."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.terraform.conftest import REPO, TERRAFORM_DIR, run_terraform

CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"


def test_terraform_files_are_formatted(terraform_env: dict[str, str]) -> None:
    result = run_terraform(terraform_env, "fmt", "-check", "-recursive", "-diff")
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform/`:\n{result.stdout}"


def test_init_installs_the_aws_provider_from_the_mirror(initialised: dict[str, str]) -> None:
    result = run_terraform(initialised, "providers", "-no-color")
    assert "provider[registry.terraform.io/hashicorp/aws] 5.100.0" in result.stdout


def test_lock_file_pins_the_mirrored_provider() -> None:
    lock = (TERRAFORM_DIR / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
    assert 'version     = "5.100.0"' in lock


def test_configuration_is_valid(initialised: dict[str, str]) -> None:
    result = run_terraform(initialised, "validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


def test_terraform_test_passes_with_the_mocked_provider(initialised: dict[str, str]) -> None:
    result = run_terraform(initialised, "test", "-no-color")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


@pytest.mark.parametrize(
    ("case", "refused_run"),
    [
        ("unprotect", "turning_protection_off_is_refused"),
        ("remove_datastore", "removing_the_datastore_is_refused"),
    ],
)
def test_protected_datastore_volume_stops_a_plan_that_would_delete_it(
    initialised: dict[str, str], case: str, refused_run: str
) -> None:
    """A prevent_destroy error cannot be an expect_failures entry: these test files must fail."""
    result = run_terraform(
        initialised,
        "test",
        "-no-color",
        "-test-directory=tests/must_fail",
        f"-filter=tests/must_fail/{case}.tftest.hcl",
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert 'run "protected_datastore_is_created"... pass' in output
    assert f'run "{refused_run}"... fail' in output
    assert (
        'Resource module.support["datastore"].aws_ebs_volume.data_protected[0] has '
        "lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed"
    ) in output


def test_checkov_finds_no_failed_checks() -> None:
    assert CHECKOV.exists(), (
        f"checkov is not installed at {CHECKOV}: run `make tools` (it lives in its own venv)"
    )
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for check in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["passed"] > 0


def test_every_checkov_skip_gives_a_reason() -> None:
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert len(reason.strip()) > 20, f"{path}:{number}: skip of {check} needs a reason"
