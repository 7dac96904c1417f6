"""testinfra checks of converged hosts: `pytest tests/infra --hosts=...` (see docs/testing.md).

Each module carries the marker of the role it checks; `-m` picks the roles a host was converged
with (a Molecule scenario sets it in its verifier options). `host` checks hold on every host.
"""

import pytest

MARKERS = {
    "host": "holds on every converged host (permissions of /etc and /usr)",
    "redis": "the redis role",
    "exporters": "the exporters role",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("hosts", default=None):
        raise pytest.UsageError(
            "tests/infra check a converged host: name it with --hosts "
            "(podman://NAME, ssh://HOST or ansible://GROUP with --ansible-inventory=FILE)"
        )
