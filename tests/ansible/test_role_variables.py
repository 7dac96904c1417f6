"""Every role variable is documented where Ansible checks it: meta/argument_specs.yml types and
describes each one with the default defaults/main.yml gives it, and the defaults pass the spec;
public names carry the role's prefix, private ones start with `_`; the README names each."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.plays import (
    ANSIBLE_DIR,
    ROLES,
    ROLES_DIR,
    TASKS_FROM_ROLES,
    bare_ansible_env,
    load_yaml,
    run,
    tool,
)

# The argument-spec types the roles use (Ansible's names for them).
ARGUMENT_TYPES = {"str", "int", "float", "bool", "list", "dict", "path"}


def argument_options(role: str) -> dict[str, dict[str, Any]]:
    """The options of every entry point (main, or each tasks_from file of the common role)."""
    spec = load_yaml(ROLES_DIR / role / "meta/argument_specs.yml")
    return {
        name: option
        for entry in spec["argument_specs"].values()
        for name, option in entry["options"].items()
    }


def variable_prefix(role: str) -> str:
    return f"_{role}_" if role in TASKS_FROM_ROLES else f"{role}_"


def role_defaults(role: str) -> dict[str, Any]:
    return load_yaml(ROLES_DIR / role / "defaults/main.yml") or {}


@functools.cache
def variables_from_the_vault() -> frozenset[str]:
    """The variables site.yml's group_vars set from a `vault_` variable."""
    return frozenset(
        name
        for path in (ANSIBLE_DIR / "group_vars").rglob("*.yml")
        for name, value in (load_yaml(path) or {}).items()
        if "vault_" in str(value)
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_in_argument_specs(role: str) -> None:
    undocumented = sorted(set(role_defaults(role)) - set(argument_options(role)))
    assert not undocumented, f"{role}: defaults without argument_specs: {undocumented}"


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_without_a_default_is_a_secret_from_the_vault(role: str) -> None:
    """Only a secret may go without a default: the vault gives it, and nothing else would, so any
    other variable missing from defaults/main.yml would stop the role on an undefined name."""
    options = argument_options(role)
    for name in sorted(set(options) - set(role_defaults(role))):
        if role in TASKS_FROM_ROLES and options[name].get("required") is True:
            continue  # the including role passes it with every include
        assert options[name].get("no_log") is True, f"{role}: {name} has no default"
        assert name in variables_from_the_vault(), (
            f"{role}: {name} has no default and site.yml's group_vars do not take it from the vault"
        )


@pytest.mark.parametrize("role", ROLES)
def test_every_public_variable_is_prefixed_typed_and_described(role: str) -> None:
    for name, option in argument_options(role).items():
        assert name.startswith(variable_prefix(role)), f"{role}: {name} lacks the role prefix"
        assert option.get("type") in ARGUMENT_TYPES, f"{role}: {name} has no known type"
        assert len(option.get("description", "")) > 10, f"{role}: {name} has no description"
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], (
                f"{role}: {name} default not among choices"
            )


@pytest.mark.parametrize("role", ROLES)
def test_private_variables_start_with_an_underscore(role: str) -> None:
    private = ROLES_DIR / role / "vars/main.yml"
    names = (load_yaml(private) or {}) if private.exists() else {}
    public = sorted(name for name in names if not name.startswith("_"))
    assert not public, f"{role}: vars/main.yml sets {public} without the leading underscore"


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_match_the_role_defaults(role: str) -> None:
    """Ansible takes a role's defaults from defaults/main.yml only; the spec's copy is what
    ansible-doc shows, so it must say the same. Two may leave it out: a required option (Ansible
    refuses a default beside `required`), and a templated default, since Ansible renders the
    spec when the role starts, before the facts or variables the template reads may exist."""
    defaults = role_defaults(role)
    for name, option in argument_options(role).items():
        if "default" in option:
            assert name in defaults, (
                f"{role}: {name} has a spec default but no defaults/main.yml entry"
            )
            assert option["default"] == defaults[name], (
                f"{role}: {name} spec default differs from defaults/main.yml"
            )
        elif name in defaults:
            assert option.get("required") is True or "{{" in str(defaults[name]), (
                f"{role}: {name} has no spec default"
            )


@pytest.mark.parametrize(
    "role",
    ROLES,
)
def test_role_readme_documents_every_variable(role: str) -> None:
    readme = (ROLES_DIR / role / "README.md").read_text()
    missing = [name for name in argument_options(role) if f"`{name}`" not in readme]
    assert not missing, f"{role}/README.md does not mention {missing}"
    assert "## Example" in readme


def sample(option: dict[str, Any]) -> Any:
    """A valid value for an option with no default: a secret from the vault, or (for a
    tasks_from entry point) what an including role passes, built from its type."""
    kind = option.get("type", "str")
    if kind == "dict":
        return {
            name: sample(sub)
            for name, sub in option.get("options", {}).items()
            if sub.get("required") is True
        }
    return {"list": ["a value"], "int": 1, "float": 1.0, "bool": True}.get(
        kind, "a value from the vault"
    )


# A value of the wrong type for each argument-spec type that Ansible does not convert to it.
WRONG_VALUES: dict[str, Any] = {
    "int": {"a": "dict"},
    "float": {"a": "dict"},
    "list": {"a": "dict"},
    "dict": "not a dict",
    "bool": "not a bool",
}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_pass_the_roles_own_argument_specs(role: str, tmp_path: Path) -> None:
    """Ansible validates role arguments against meta/argument_specs.yml before the role runs; the
    defaults must pass, and a wrong type in any one variable must not."""
    path = ROLES_DIR / role
    spec = argument_options(role)
    # The values as the role sees them: every default templated with the others, the role's own
    # vars and the host's facts loaded; a secret that only the vault gives, a placeholder.
    provided = {name: "{{ " + name + " }}" for name in role_defaults(role)}
    provided |= {name: sample(option) for name, option in spec.items() if name not in provided}
    wrong = {
        name: WRONG_VALUES[option["type"]]
        for name, option in spec.items()
        if option["type"] in WRONG_VALUES
    }
    assert wrong, f"{role}: no variable whose type a wrong value can break"
    tasks = [
        {
            "name": "Defaults are valid",
            "ansible.builtin.validate_argument_spec": {
                "argument_spec": spec,
                "provided_arguments": provided,
            },
        },
        {
            "name": "Wrong types are not",
            "ansible.builtin.validate_argument_spec": {
                "argument_spec": spec,
                "provided_arguments": "{{ _provided | combine({item.key: item.value}) }}",
            },
            "loop": "{{ _wrong | dict2items }}",
            "loop_control": {"label": "{{ item.key }}"},
            "register": "wrong",
            "ignore_errors": True,
        },
        {
            "name": "Check",
            "ansible.builtin.assert": {
                "that": ["wrong.results | rejectattr('failed') | list | length == 0"],
                "fail_msg": "accepted a wrong type: "
                "{{ wrong.results | rejectattr('failed') | map(attribute='item.key') | list }}",
            },
        },
    ]
    play = [
        {
            "name": "Specs",
            "hosts": "localhost",
            "gather_facts": True,
            "gather_subset": ["min"],
            "vars_files": [
                str(file)
                for file in (path / "defaults/main.yml", path / "vars/main.yml")
                if file.exists()
            ],
            # role_path: what a default or the spec may read, as the role would see it.
            "vars": {"role_path": str(path), "_provided": provided, "_wrong": wrong},
            "tasks": tasks,
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        tmp_path / "play.yml",
        env=bare_ansible_env(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok=4" in result.stdout
