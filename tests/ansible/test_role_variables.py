"""Every role variable carries the role's prefix, is typed and described in meta/argument_specs.yml
with the default defaults/main.yml gives it, and its README names it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ansible.plays import ROLES, ROLES_DIR, load_yaml


def argument_options(role: str) -> dict[str, dict[str, Any]]:
    spec = load_yaml(ROLES_DIR / role / "meta/argument_specs.yml")
    return spec["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_in_argument_specs(role: str) -> None:
    defaults = load_yaml(ROLES_DIR / role / "defaults/main.yml") or {}
    undocumented = sorted(set(defaults) - set(argument_options(role)))
    assert not undocumented, f"{role}: defaults without argument_specs: {undocumented}"


@pytest.mark.parametrize("role", ROLES)
def test_every_public_variable_is_prefixed_typed_and_described(role: str) -> None:
    for name, option in argument_options(role).items():
        assert name.startswith(f"{role}_"), f"{role}: {name} lacks the role prefix"
        assert option.get("type"), f"{role}: {name} has no type"
        assert len(option.get("description", "")) > 10, f"{role}: {name} has no description"
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], (
                f"{role}: {name} default not among choices"
            )


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_match_the_role_defaults(role: str) -> None:
    defaults = load_yaml(ROLES_DIR / role / "defaults/main.yml") or {}
    for name, option in argument_options(role).items():
        if "default" in option:
            assert name in defaults, (
                f"{role}: {name} has a spec default but no defaults/main.yml entry"
            )
            assert option["default"] == defaults[name], (
                f"{role}: {name} spec default differs from defaults/main.yml"
            )


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_documents_every_variable(role: str) -> None:
    readme = (ROLES_DIR / role / "README.md").read_text()
    missing = [name for name in argument_options(role) if f"`{name}`" not in readme]
    assert not missing, f"{role}/README.md does not mention {missing}"
    assert "## Example" in readme
