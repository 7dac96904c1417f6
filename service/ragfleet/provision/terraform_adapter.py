"""The one place that talks to python-terraform, with a workaround for each of its breakages.

python-terraform 0.10.1 (2019) predates Terraform 1.x. Against Terraform 1.11:

* ``apply()`` sends ``-auto-approve=false`` unless ``skip_plan=True``, so a non-interactive apply
  is refused. We pass ``skip_plan=True``.
* ``destroy()`` sends ``-force``, which Terraform 1.x removed. We pass ``force=None`` (omitted) and
  ``auto_approve=IsFlagged``.
* ``output("name")`` indexes the bare JSON value with ``["value"]`` and raises TypeError. We call
  ``output()`` without a name and read each ``value`` from the dict it returns.
* A directory passed to ``apply(dir)`` becomes a positional argument that Terraform 1.x reads as
  a plan file. We set ``working_dir`` instead (the subprocess runs there, like ``-chdir``).
* It has no way to pass environment variables: it copies ``os.environ``. We set ours for the
  duration of each call and restore the previous values afterwards.

``plan(out=FILE)`` followed by ``apply_plan(FILE)`` applies exactly the plan that was shown (the
saved plan is the positional argument, and no ``-var`` may go with it); ``plan(destroy=True)``
does the same for a destroy. Terraform refuses a saved plan once the state has moved on.

Tests in tests/unit/test_provision_adapter.py run the raw calls against a real Terraform to show
each breakage, and the adapter to show each workaround.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform  # type: ignore[import-untyped]

PLAN_NO_CHANGES = 0
PLAN_CHANGES = 2


class TerraformError(Exception):
    """A Terraform command failed; carries its exit code and output for the user."""

    def __init__(self, command: str, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(
            f"terraform {command} failed with exit code {returncode}:\n{stderr.strip()}"
        )
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class PlanResult:
    changes: bool
    output: str
    plan_file: Path | None = None


class TerraformAdapter:
    """Run init/plan/apply/destroy/output in ``working_dir`` with ``env`` added."""

    def __init__(
        self,
        working_dir: Path,
        env: Mapping[str, str] | None = None,
        terraform_bin: str = "terraform",
    ) -> None:
        self._working_dir = working_dir
        self._env = dict(env or {})
        self._tf = Terraform(working_dir=str(working_dir), terraform_bin_path=terraform_bin)

    def init(self, backend_config: Mapping[str, str] | None = None) -> str:
        """Install providers and configure the backend (e.g. ``{"path": state_file}``)."""
        return self._checked(
            "init",
            self._tf.init,
            backend_config=dict(backend_config or {}) or None,
        )

    def plan(
        self, variables: Mapping[str, Any], out: Path | None = None, destroy: bool = False
    ) -> PlanResult:
        """Plan; ``changes`` comes from ``-detailed-exitcode`` (0 none, 2 some).

        ``out`` saves the plan for :meth:`apply_plan`; ``destroy`` plans deleting everything.
        """
        options: dict[str, Any] = {"var": dict(variables), "input": False}
        if out is not None:
            options["out"] = str(out)
        if destroy:
            options["destroy"] = IsFlagged
        with self._environment():
            code, stdout, err = self._tf.plan(**options)
        if code not in (PLAN_NO_CHANGES, PLAN_CHANGES):
            raise TerraformError("plan", code, stdout, err)
        return PlanResult(changes=code == PLAN_CHANGES, output=stdout, plan_file=out)

    def apply_plan(self, plan_file: Path) -> str:
        """Apply a plan saved by ``plan(out=plan_file)``, and nothing else."""
        # A saved plan is applied without a prompt; skip_plan=True only keeps python-terraform
        # from adding -auto-approve=false.
        return self._checked("apply", self._tf.apply, dir_or_plan=str(plan_file), skip_plan=True)

    def apply(self, variables: Mapping[str, Any]) -> str:
        # skip_plan=True is what makes python-terraform send -auto-approve=true instead of =false.
        return self._checked("apply", self._tf.apply, var=dict(variables), skip_plan=True)

    def destroy(self, variables: Mapping[str, Any]) -> str:
        # force=None drops the -force flag Terraform 1.x removed; -auto-approve replaces it.
        return self._checked(
            "destroy", self._tf.destroy, var=dict(variables), force=None, auto_approve=IsFlagged
        )

    def outputs(self) -> dict[str, Any]:
        """Every root output's value by name (never ``output(name)``: that raises TypeError)."""
        with self._environment():
            raw = self._tf.output()
        if raw is None:
            raise TerraformError("output", 1, "", "terraform output -json failed")
        return {name: entry["value"] for name, entry in raw.items()}

    def _checked(self, command: str, call: Any, **options: Any) -> str:
        with self._environment():
            code, out, err = call(**options)
        if code != 0:
            raise TerraformError(command, code, out, err)
        return str(out)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        saved = {key: os.environ.get(key) for key in self._env}
        os.environ.update(self._env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
