"""Module documentation and layout, as terraform-docs and tflint would hold them.

Neither tool can be installed here, so scripts/terraform_docs.py writes the README tables and
these tests make the checks of tflint's terraform_documented_variables,
terraform_documented_outputs and terraform_standard_module_structure rules, reading the
configuration with python-hcl2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from tests.terraform.conftest import REPO, TERRAFORM_DIR

DOCS_SCRIPT = REPO / "scripts" / "terraform_docs.py"
MODULE_DIRS = [
    TERRAFORM_DIR,
    *sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir()),
    *sorted(p for p in (TERRAFORM_DIR / "examples").iterdir() if p.is_dir()),
]
MODULE_IDS = [str(p.relative_to(TERRAFORM_DIR)) for p in MODULE_DIRS]


def blocks(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every ``kind`` block of one file by its label (python-hcl2 keeps the label's quotes)."""
    with path.open(encoding="utf-8") as handle:
        data = hcl2.load(handle, serialization_options=SerializationOptions(with_comments=False))
    return {label.strip('"'): body for block in data.get(kind, []) for label, body in block.items()}


def module_blocks(directory: Path, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every ``kind`` block of a module: label -> (file name, body)."""
    return {
        label: (path.name, body)
        for path in sorted(directory.glob("*.tf"))
        for label, body in blocks(path, kind).items()
    }


def described(body: dict[str, Any]) -> bool:
    return str(body.get("description", "")).strip('"').strip() != ""


def test_readmes_match_the_configuration() -> None:
    result = subprocess.run(
        [sys.executable, str(DOCS_SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_module_readme_carries_the_generated_section(directory: Path) -> None:
    readme = (directory / "README.md").read_text()
    assert "<!-- BEGIN_TF_DOCS -->" in readme
    assert "<!-- END_TF_DOCS -->" in readme


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_every_variable_has_a_description(directory: Path) -> None:
    variables = module_blocks(directory, "variable")
    missing = [name for name, (_file, body) in variables.items() if not described(body)]
    assert missing == [], f"{directory}: variables without a description: {missing}"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_every_output_has_a_description(directory: Path) -> None:
    outputs = module_blocks(directory, "output")
    missing = [name for name, (_file, body) in outputs.items() if not described(body)]
    assert missing == [], f"{directory}: outputs without a description: {missing}"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_module_has_main_variables_and_outputs_files(directory: Path) -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        assert (directory / name).is_file(), f"{directory} lacks {name}"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_variables_are_declared_in_variables_tf_only(directory: Path) -> None:
    elsewhere = {
        name: file
        for name, (file, _body) in module_blocks(directory, "variable").items()
        if file != "variables.tf"
    }
    assert elsewhere == {}, f"{directory}: move these variables to variables.tf: {elsewhere}"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=MODULE_IDS)
def test_outputs_are_declared_in_outputs_tf_only(directory: Path) -> None:
    elsewhere = {
        name: file
        for name, (file, _body) in module_blocks(directory, "output").items()
        if file != "outputs.tf"
    }
    assert elsewhere == {}, f"{directory}: move these outputs to outputs.tf: {elsewhere}"


def test_docs_script_finds_a_stale_readme_and_rewrites_it(tmp_path: Path) -> None:
    module = tmp_path / "terraform"
    module.mkdir()
    (module / "variables.tf").write_text(
        'variable "size_gib" {\n  description = "Disk size."\n  type        = number\n'
        "  default     = 20\n}\n"
    )
    (module / "README.md").write_text("# m\n\n<!-- BEGIN_TF_DOCS -->\n<!-- END_TF_DOCS -->\n")
    script = [sys.executable, str(DOCS_SCRIPT), "--terraform-dir", str(module)]

    stale = subprocess.run([*script, "--check"], capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "README.md is stale" in stale.stderr
    assert "size_gib" not in (module / "README.md").read_text()

    subprocess.run(script, capture_output=True, text=True, check=True)
    row = (
        '| <a name="input_size_gib"></a> [size_gib](#input\\_size\\_gib) | Disk size. '
        "| `number` | `20` | no |"
    )
    assert row in (module / "README.md").read_text()
    assert subprocess.run([*script, "--check"], check=False).returncode == 0
