"""Imports in service/ragfleet only point down the layers: a module may import its own package
and the packages below it, never one above (docs/architecture.md draws the map)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "service" / "ragfleet"

# Lowest first. Modules at the package root count as packages of their own name.
LAYERS: list[set[str]] = [
    {"__init__", "domain", "errors", "settings"},
    {"observability", "hardware"},
    {"adapters", "provision"},
    {"cache"},
    {"query", "ingestion", "security"},
    {"system"},
    {"api"},
    {"app"},
    {"commands"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """``ragfleet.query.service`` → ``query``; ``ragfleet`` itself → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ragfleet":
                found += [(node.lineno, f"ragfleet.{alias.name}") for alias in node.names]
            elif node.module.startswith("ragfleet."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("ragfleet")]
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    units = {
        _unit("ragfleet." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
        for p in _modules()
    }
    assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = _unit("ragfleet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    upward = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if _unit(module) != own and RANK[_unit(module)] > RANK[own]
    ]
    assert not upward, f"{own} imports a higher layer: {upward}"
