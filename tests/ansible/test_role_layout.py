"""Every role has the same layout: preflight, install and configure included in that order, and an
install step a variable can skip."""

from __future__ import annotations

import pytest

from tests.ansible.plays import ROLES, ROLES_DIR, WRITE_ONLY_ROLES, load_yaml


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_standard_layout(role: str) -> None:
    path = ROLES_DIR / role
    for part in (
        "defaults/main.yml",
        "meta/main.yml",
        "meta/argument_specs.yml",
        "tasks/main.yml",
        "tasks/preflight.yml",
        "tasks/install.yml",
        "tasks/configure.yml",
        "handlers/main.yml",
        "README.md",
    ):
        if role in WRITE_ONLY_ROLES and part in {"tasks/install.yml", "handlers/main.yml"}:
            assert not (path / part).exists(), f"{role} writes files only: {part} says otherwise"
            continue
        assert (path / part).is_file(), f"{role}: {part} is missing"
    main = (path / "tasks/main.yml").read_text()
    steps = ["preflight.yml", "configure.yml"]
    if role not in WRITE_ONLY_ROLES:
        steps.insert(1, "install.yml")
    assert [main.index(step) for step in steps] == sorted(main.index(step) for step in steps)


@pytest.mark.parametrize("role", ROLES)
def test_install_is_skippable_by_a_variable(role: str) -> None:
    if role in WRITE_ONLY_ROLES:
        assert "install" not in (ROLES_DIR / role / "tasks/main.yml").read_text()
        return
    main = load_yaml(ROLES_DIR / role / "tasks/main.yml")
    install = next(
        task for task in main if task["ansible.builtin.include_tasks"]["file"] == "install.yml"
    )
    assert f"{role}_install" in str(install["when"])
