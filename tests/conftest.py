"""Settings shared by everything under tests/."""

from pathlib import Path

import pytest

# tests/infra verify a converged host (a Molecule container or a real one) named with --hosts
# (pytest-testinfra). A plain `pytest` run of tests/ has no host, so it leaves them out.
_INFRA_DIR = Path(__file__).parent / "infra"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path == _INFRA_DIR and not config.getoption("hosts", default=None):
        return True
    return None
