"""ansible-lint's production profile passes over the Ansible tree and the Molecule scenarios'
playbooks."""

from __future__ import annotations

from tests.ansible.plays import ANSIBLE_DIR, REPO, run, tool


def test_ansible_lint_production_profile_passes() -> None:
    result = run(
        tool("ansible-lint"),
        "--nocolor",
        "-c",
        ANSIBLE_DIR / ".ansible-lint",
        ANSIBLE_DIR,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_molecule_playbooks_pass_the_production_profile() -> None:
    """The scenarios' own playbooks (prepare, connect, converge) meet the roles' bar."""
    playbooks = sorted((REPO / "molecule" / "shared").glob("*.yml"))
    assert {p.name for p in playbooks} >= {"connect.yml", "converge.yml", "prepare.yml"}
    result = run(
        tool("ansible-lint"),
        "--nocolor",
        "--offline",
        "--profile",
        "production",
        *playbooks,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr
