"""Every role has the layout ansible/roles/README.md describes: defaults, argument specs, meta and a
README; tasks/main.yml includes only preflight, install and configure, in that order; and a variable
can skip the install step."""

from __future__ import annotations

import json

import pytest

from tests.ansible.plays import (
    INCLUDED_ROLES,
    ROLES,
    ROLES_DIR,
    WRITE_ONLY_ROLES,
    entry_points,
    load_yaml,
)

# Roles that include their own steps (all but those included by others for one shared step).
STEPPED_ROLES = [role for role in ROLES if role not in INCLUDED_ROLES]
# Roles whose install step always runs: no `<role>_install` switch yet.
WITHOUT_INSTALL_SWITCH = {"prometheus"}


def steps(role: str) -> list[str]:
    """The task files tasks/main.yml includes, in order."""
    if role in WRITE_ONLY_ROLES:
        return ["preflight.yml", "configure.yml"]
    return ["preflight.yml", "install.yml", "configure.yml"]


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_standard_layout(role: str) -> None:
    path = ROLES_DIR / role
    parts = [
        "defaults/main.yml",
        "meta/main.yml",
        "meta/argument_specs.yml",
        "README.md",
    ]
    parts += [f"tasks/{entry}.yml" for entry in entry_points(role)]
    if role not in INCLUDED_ROLES:
        parts += [f"tasks/{step}" for step in steps(role)]
    if role in WRITE_ONLY_ROLES:
        for part in ("tasks/install.yml", "handlers/main.yml"):
            assert not (path / part).exists(), f"{role} writes files only: {part} says otherwise"
    elif role not in INCLUDED_ROLES:
        parts.append("handlers/main.yml")
    for part in parts:
        assert (path / part).is_file(), f"{role}: {part} is missing"


@pytest.mark.parametrize("role", ROLES)
def test_meta_names_the_role(role: str) -> None:
    assert load_yaml(ROLES_DIR / role / "meta/main.yml")["galaxy_info"]["role_name"] == role


@pytest.mark.parametrize("role", STEPPED_ROLES)
def test_main_only_includes_preflight_install_configure_in_order(role: str) -> None:
    tasks = load_yaml(ROLES_DIR / role / "tasks/main.yml")
    # A file name, or {file, apply: {tags}} so --tags/--skip-tags reach the included tasks.
    included = [
        include["file"] if isinstance(include, dict) else include
        for include in (task["ansible.builtin.include_tasks"] for task in tasks)
    ]
    assert included == steps(role)


@pytest.mark.parametrize(
    "role",
    [
        pytest.param(
            role,
            marks=pytest.mark.xfail(
                strict=True, reason=f"{role} has no {role}_install switch: its install always runs"
            ),
        )
        if role in WITHOUT_INSTALL_SWITCH
        else role
        for role in STEPPED_ROLES
    ],
)
def test_install_is_skippable_by_a_variable(role: str) -> None:
    if role in WRITE_ONLY_ROLES:
        # No step, switch or tag: no key or value of its tasks/main.yml names an install.
        assert "install" not in json.dumps(load_yaml(ROLES_DIR / role / "tasks/main.yml"))
        return
    main = load_yaml(ROLES_DIR / role / "tasks/main.yml")
    install = next(
        task for task in main if task["ansible.builtin.include_tasks"]["file"] == "install.yml"
    )
    assert f"{role}_install" in str(install.get("when", "")), f"{role}: install.yml always runs"
