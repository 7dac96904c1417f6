"""Fixtures shared by the tests of the Ansible tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ansible.plays import REPO, run, tool


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The roles' templates rendered once by render_templates.yml for the large profile, read by
    the tests of each role's configuration and of the units."""
    out = tmp_path_factory.mktemp("rendered")
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        REPO / "tests/ansible/render_templates.yml",
        "-e",
        f"render_dir={out}",
        "-e",
        "render_trtllm_profile=large",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return out
