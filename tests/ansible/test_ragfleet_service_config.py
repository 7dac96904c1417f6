"""The service's rendered environment file and unit."""

from __future__ import annotations

import json
from pathlib import Path


def test_environment_file_holds_every_setting_in_systemd_quoting(rendered: Path) -> None:
    lines = [
        line
        for line in (rendered / "ragfleet.env").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    env = {}
    for line in lines:
        name, _, value = line.partition("=")
        assert value.startswith('"'), line
        assert value.endswith('"'), line
        env[name] = json.loads(value)
    assert env["RAGFLEET_WORKERS"] == "8"
    assert env["RAGFLEET_HOST"] == "10.20.1.11"
    assert env["RAGFLEET_TRUSTED_PROXIES"] == "127.0.0.1,10.20.4.41"
    assert env["RAGFLEET_METRICS_ALLOW_FROM"] == "127.0.0.1,10.20.3.31"
    assert env["RAGFLEET_API_KEYS"].count(":query") == 2
    assert env["RAGFLEET_CACHE_TTL_S"] == 'say "hi"'
    assert env["RAGFLEET_LOG_JSON"] == "true"


def test_service_unit_runs_ragfleet_serve_with_the_workers(rendered: Path) -> None:
    unit = (rendered / "ragfleet.service").read_text()
    assert "ragfleet serve --host 10.20.1.11 --port 8000 --workers 8" in unit
    assert "ReadWritePaths=/srv/ragfleet/service" in unit
