"""Every example under terraform/examples initialises offline and validates: a new folder is
picked up without touching this file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.terraform.conftest import TERRAFORM_DIR, run_terraform

EXAMPLES_DIR = TERRAFORM_DIR / "examples"
EXAMPLES = sorted(path.name for path in EXAMPLES_DIR.iterdir() if path.is_dir())
# The root module keeps `backend "local" {}` for `ragfleet provision`, which passes the state path
# with -backend-config; called from an example it is ignored, and Terraform says so.
ROOT_BACKEND_WARNING = ("Backend configuration ignored", "../../versions.tf")


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) >= 3, EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_has_a_readme_and_pinned_versions(example: str) -> None:
    folder = EXAMPLES_DIR / example
    for name in ("main.tf", "versions.tf", "README.md", ".terraform.lock.hcl"):
        assert (folder / name).is_file(), f"{example} lacks {name}"
    assert 'source = "../.."' in (folder / "main.tf").read_text(), (
        f"{example} must call the root module by its relative path"
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_initialises_offline_and_validates(
    terraform_env: dict[str, str], tmp_path: Path, example: str
) -> None:
    env = {**terraform_env, "TF_DATA_DIR": str(tmp_path / "data")}
    chdir = f"-chdir=examples/{example}"
    init = run_terraform(
        env, chdir, "init", "-input=false", "-no-color", "-backend=false", "-lockfile=readonly"
    )
    assert init.returncode == 0, init.stdout + init.stderr

    result = run_terraform(env, chdir, "validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    unexpected = [
        diagnostic
        for diagnostic in report["diagnostics"]
        if (diagnostic["summary"], diagnostic.get("range", {}).get("filename"))
        != ROOT_BACKEND_WARNING
    ]
    assert unexpected == [], json.dumps(unexpected, indent=2)
