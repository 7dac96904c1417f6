"""The CLI a service host runs: its extras (operator, local-llm) are not installed there.

The ansible role installs ragfleet without the ``operator`` extra, and GPU hosts without
``local-llm``; a CLI that imports them while building its parser cannot even ``serve``.
"""

import subprocess
import sys

import pytest

_PROBE = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # import fails as if the package were absent
from ragfleet.cli import build_parser
args = build_parser().parse_args({argv!r})
print(args.command)
"""


@pytest.mark.parametrize(
    "argv",
    [["serve", "--help"], ["ingest", "--help"], ["keys", "new", "--help"], ["profile", "list"]],
)
def test_the_cli_parses_without_the_optional_extras(argv: list[str]) -> None:
    blocked = ["python_terraform", "xllamacpp", "moto", "ansible"]
    probe = _PROBE.format(blocked=blocked, argv=argv)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert "ModuleNotFoundError" not in result.stderr, result.stderr
    assert "usage:" in result.stdout or result.stdout.strip() == argv[0], result.stdout
