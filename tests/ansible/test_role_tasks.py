"""What every role's tasks do the same way: each task file parses, system users cannot log in,
and commands say when they change something."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.plays import (
    ANSIBLE_DIR,
    ROLES,
    ROLES_DIR,
    bare_ansible_env,
    load_yaml,
    run,
    tool,
)


@pytest.mark.parametrize("role", ROLES)
def test_every_task_file_passes_ansible_syntax_check(role: str, tmp_path: Path) -> None:
    """include_tasks is dynamic, so the playbooks' syntax checks never open a role's task files:
    this play imports each one statically, its handlers as handlers (`listen` is theirs alone)."""
    path = ROLES_DIR / role
    play = [
        {
            "name": f"Syntax of {role}",
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(path / "defaults" / "main.yml")],
            "tasks": [
                {"ansible.builtin.import_tasks": str(file)}
                for file in sorted((path / "tasks").glob("*.yml"))
            ],
            "handlers": [
                {"ansible.builtin.import_tasks": str(file)}
                for file in sorted((path / "handlers").glob("*.yml"))
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = bare_ansible_env(tmp_path)
    # A role's own modules (library/), which Ansible finds only for a role it runs as one.
    env["ANSIBLE_LIBRARY"] = str(path / "library")
    result = run(
        tool("ansible-playbook"),
        "--syntax-check",
        "-i",
        "localhost,",
        tmp_path / "play.yml",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_system_users_get_nologin_shells() -> None:
    for tasks in ROLES_DIR.glob("*/tasks/*.yml"):
        if tasks.parts[-3] not in ROLES:
            continue
        for task in load_yaml(tasks) or []:
            module = task.get("ansible.builtin.user")
            if module:
                assert module.get("system") is True, tasks
                assert module.get("shell") == "/usr/sbin/nologin", tasks


def test_commands_declare_when_they_change_something() -> None:
    def walk(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key, []))

    for path in [
        *ANSIBLE_DIR.glob("*.yml"),
        *ROLES_DIR.glob("*/tasks/*.yml"),
        *ROLES_DIR.glob("*/handlers/*.yml"),
    ]:
        if path.name.startswith("vault") or (
            path.parts[-3] not in ROLES and path.parent != ANSIBLE_DIR
        ):
            continue
        documents = load_yaml(path) or []
        plays = documents if path.parent == ANSIBLE_DIR else [{"tasks": documents}]
        for play in plays:
            for task in walk(play.get("tasks", [])):
                command = task.get("ansible.builtin.command") or task.get("ansible.builtin.shell")
                if command is None:
                    continue
                guarded = "changed_when" in task or any(
                    k in command for k in ("creates", "removes")
                )
                assert guarded, (
                    f"{path}: command task {task.get('name')!r} lacks changed_when/creates"
                )
