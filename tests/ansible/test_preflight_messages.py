"""Every role's preflight asserts one concern per task, and its failure says what is wrong: a
fail_msg of its own that names the variable at fault, what is expected and, for a value that is
not a secret, what was got. no_log hides the failure message too, so an assert carries it only
where its message would print a secret; the condition that failed is printed as written, never
with the values it read. Read from the task files, then run on the redis role."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, nodes

from tests.ansible.plays import ROLES_DIR, load_yaml, run_local_play

PREFLIGHTS = sorted(ROLES_DIR.glob("*/tasks/preflight.yml"))
# Variables that hold a secret: passwords (and their hashes), keys' PEM, tokens, API key digests.
SECRET = re.compile(r"password|secret|token|private_key|access_key|api_key")
# More conditions than this in one assert is a list of concerns, not one.
MAX_CONDITIONS = 4
# Names Ansible provides; a message need not name them as the role's variables.
ANSIBLE_NAMES = {"item", "inventory_hostname", "hostvars", "groups", "lookup", "query", "omit"}
_JINJA = Environment()


def _ids(path: Path) -> str:
    return path.parts[-3]


def _tasks(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield task
        for section in ("block", "rescue", "always"):
            yield from _tasks(task.get(section, []))


def _asserts(path: Path) -> list[dict[str, Any]]:
    return [task for task in _tasks(load_yaml(path)) if "ansible.builtin.assert" in task]


def _conditions(task: dict[str, Any]) -> list[str]:
    that = task["ansible.builtin.assert"]["that"]
    return [that] if isinstance(that, str) else list(that)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _read(source: str) -> set[str]:
    """The variables a Jinja template reads."""
    with warnings.catch_warnings():
        # Regular expressions such as '^[0-9]+\.[0-9]+$' are escapes Jinja's lexer warns about.
        warnings.simplefilter("ignore", DeprecationWarning)
        template = _JINJA.parse(source)
    return {node.name for node in template.find_all(nodes.Name) if node.ctx == "load"}


def _condition_names(task: dict[str, Any]) -> list[set[str]]:
    return [_read("{{ " + condition + " }}") for condition in _conditions(task)]


def _printed(task: dict[str, Any], role_vars: dict[str, Any]) -> set[str]:
    """Every variable whose value can reach the assert's messages: those the messages
    interpolate, followed through task and role vars and through the loop for ``item``."""
    arguments = task["ansible.builtin.assert"]
    definitions = {**role_vars, **task.get("vars", {})}
    pending = set().union(*(_read(arguments.get(key, "")) for key in ("fail_msg", "success_msg")))
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        seen.add(name)
        sources = list(_strings(definitions.get(name)))
        if name == "item":
            sources += _strings(task.get("loop", []))
        pending |= set().union(*(_read(source) for source in sources)) - seen
    return seen


def _role_vars(path: Path) -> dict[str, Any]:
    role_vars = path.parents[1] / "vars" / "main.yml"
    return (load_yaml(role_vars) or {}) if role_vars.exists() else {}


def test_every_role_that_runs_a_preflight_is_checked() -> None:
    mains = ROLES_DIR.glob("*/tasks/main.yml")
    running = {main.parents[1] for main in mains if "preflight.yml" in main.read_text()}
    assert running == {path.parents[1] for path in PREFLIGHTS}
    assert all(_asserts(path) for path in PREFLIGHTS)


@pytest.mark.parametrize("path", PREFLIGHTS, ids=_ids)
def test_every_assert_has_a_message_of_its_own(path: Path) -> None:
    messages = [task["ansible.builtin.assert"].get("fail_msg", "") for task in _asserts(path)]
    for task, message in zip(_asserts(path), messages, strict=True):
        assert isinstance(message, str), f"{task['name']}: no fail_msg"
        assert message.strip(), f"{task['name']}: an empty fail_msg"
    assert len(set(messages)) == len(messages), "two asserts share a message"


@pytest.mark.parametrize("path", PREFLIGHTS, ids=_ids)
def test_each_assert_checks_one_concern(path: Path) -> None:
    """At most a few conditions, and every one of them reads a variable they all read (a TLS
    certificate with its key and CA, a password that must also differ from another)."""
    for task in _asserts(path):
        names = _condition_names(task)
        assert len(names) <= MAX_CONDITIONS, f"{task['name']}: {len(names)} conditions"
        assert set.intersection(*names), f"{task['name']} checks unrelated variables: {names}"


@pytest.mark.parametrize("path", PREFLIGHTS, ids=_ids)
def test_no_log_only_where_the_message_prints_a_secret(path: Path) -> None:
    role_vars = _role_vars(path)
    for task in _asserts(path):
        secrets = {name for name in _printed(task, role_vars) if SECRET.search(name)}
        if task.get("no_log"):
            assert secrets, f"{task['name']}: no_log hides a message that prints no secret"
        else:
            assert not secrets, f"{task['name']} prints {secrets} without no_log"


@pytest.mark.parametrize("path", PREFLIGHTS, ids=_ids)
def test_every_message_names_a_variable_it_checks(path: Path) -> None:
    for task in _asserts(path):
        checked = {
            name
            for name in set().union(*_condition_names(task))
            if not name.startswith(("_", "ansible_")) and name not in ANSIBLE_NAMES
        }
        message = task["ansible.builtin.assert"]["fail_msg"]
        if checked:
            assert any(name in message for name in checked), f"{task['name']}: names none"


@pytest.mark.parametrize("path", PREFLIGHTS, ids=_ids)
def test_every_message_shows_what_it_got_unless_that_is_a_secret(path: Path) -> None:
    for task in _asserts(path):
        checked = set().union(*_condition_names(task))
        if not any(SECRET.search(name) for name in checked):
            message = task["ansible.builtin.assert"]["fail_msg"]
            assert "{{" in message, f"{task['name']}: the message shows nothing it got"


def _redis_preflight(tmp_path: Path, **variables: Any) -> tuple[str, str, str]:
    """The redis role's preflight, facts not gathered: the failed task's name, its message and
    the whole JSON report."""
    include = {"ansible.builtin.include_role": {"name": "redis", "tasks_from": "preflight"}}
    code, report = run_local_play(tmp_path, {"gather_facts": False, "tasks": [include]}, variables)
    assert code != 0, report
    failed = [
        (task["task"]["name"], result)
        for task in report["plays"][0]["tasks"]
        for result in task["hosts"].values()
        if result.get("failed")
    ]
    assert len(failed) == 1, failed
    name, result = failed[0]
    return name, result["msg"], json.dumps(report)


def test_a_refused_value_fails_with_the_role_s_own_message_showing_it(tmp_path: Path) -> None:
    name, message, report = _redis_preflight(tmp_path, redis_bind_addresses=["0.0.0.0"])
    assert name == "redis : Assert Redis listens on named addresses only"
    assert message.startswith("redis_bind_addresses must list the host's named addresses")
    assert "got ['0.0.0.0']" in message
    assert "output has been hidden" not in report


def test_a_refused_password_is_named_but_never_printed(tmp_path: Path) -> None:
    secret = "short-secret"  # under the 16 characters the role wants
    name, message, report = _redis_preflight(tmp_path, redis_password=secret)
    assert name == "redis : Assert the default user's password from the vault"
    assert message.startswith("redis_password (the default user's) must come from the vault")
    assert secret not in report
