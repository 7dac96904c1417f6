"""The ``ragfleet`` command line: one sub-command per job, each in its own module.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed namespace and returning an exit code. Heavy imports stay
inside the command functions, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "ragfleet.commands.serve",
    "ragfleet.commands.ingest",
    "ragfleet.commands.reindex",
    "ragfleet.commands.backup",
    "ragfleet.commands.restore",
    "ragfleet.commands.query",
    "ragfleet.commands.keys",
    "ragfleet.commands.secrets",
    "ragfleet.commands.profile",
    "ragfleet.commands.provision",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="ragfleet", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ragfleet`` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
