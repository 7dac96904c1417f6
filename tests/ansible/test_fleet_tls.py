"""The fleet_tls role, run for real on this machine into a temporary directory: a host gets a key
and a certificate from the vault's CA, a rerun changes nothing, and a certificate is issued again
(with the same key) when the CA changes or its end comes near."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ragfleet.security import fleet_vault
from tests.ansible.plays import run_local_play


@pytest.fixture(scope="module")
def fleet_ca() -> dict[str, str]:
    return fleet_vault.fleet_ca()


def _converge(tmp_path: Path, ca: dict[str, str], **variables: Any) -> dict[str, Any]:
    values = {
        "fleet_tls_ca_certificate": ca["vault_fleet_ca_certificate"],
        "fleet_tls_ca_private_key": ca["vault_fleet_ca_private_key"],
        "fleet_tls_dir": str(tmp_path / "tls"),
        "fleet_tls_group": "root",  # exists here: the role's group task changes nothing
        "fleet_tls_private_address": "10.20.2.21",
        "ansible_python_interpreter": sys.executable,
        **variables,
    }
    play = {"gather_facts": True, "gather_subset": ["!all", "!min", "platform"]}
    code, report = run_local_play(tmp_path, {**play, "roles": ["fleet_tls"]}, values)
    assert code == 0, json.dumps(report)[-3000:]
    return report


def _changed(report: dict[str, Any]) -> list[str]:
    return [
        task["task"]["name"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["hosts"]["localhost"].get("changed")
    ]


def _openssl(*argv: str | Path) -> str:
    return subprocess.run(
        ["openssl", *map(str, argv)], check=True, capture_output=True, text=True
    ).stdout


def test_a_host_gets_a_key_and_a_certificate_from_the_fleet_ca(
    tmp_path: Path, fleet_ca: dict[str, str]
) -> None:
    _converge(tmp_path, fleet_ca)
    tls = tmp_path / "tls"
    _openssl("verify", "-CAfile", tls / "ca.pem", "-purpose", "sslserver", tls / "host.pem")
    names = _openssl("x509", "-in", tls / "host.pem", "-noout", "-ext", "subjectAltName")
    for expected in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:10.20.2.21"):
        assert expected in names
    assert (tls / "host.key").stat().st_mode & 0o777 == 0o640
    assert "PRIVATE KEY" not in (tls / "host.pem").read_text()
    rerun = _converge(tmp_path, fleet_ca)
    assert _changed(rerun) == [], "a second run changed something"


def test_a_new_ca_or_a_near_end_issues_again_with_the_same_key(
    tmp_path: Path, fleet_ca: dict[str, str]
) -> None:
    tls = tmp_path / "tls"
    _converge(tmp_path, fleet_ca)
    key, first = (tls / "host.key").read_text(), (tls / "host.pem").read_text()

    near_end = _converge(tmp_path, fleet_ca, fleet_tls_renew_days=400)
    assert "fleet_tls : Install the host certificate" in _changed(near_end)
    second = (tls / "host.pem").read_text()
    assert second != first

    other_ca = fleet_vault.fleet_ca()
    _converge(tmp_path, other_ca)
    assert (tls / "host.key").read_text() == key
    _openssl("verify", "-CAfile", tls / "ca.pem", tls / "host.pem")
    assert (tls / "host.pem").read_text() != second


def test_the_role_refuses_a_vault_without_a_ca(tmp_path: Path) -> None:
    empty = {"fleet_tls_ca_certificate": "", "fleet_tls_ca_private_key": ""}
    values = {**empty, "fleet_tls_dir": str(tmp_path / "tls")}
    code, report = run_local_play(tmp_path, {"gather_facts": False, "roles": ["fleet_tls"]}, values)
    assert code != 0
    assert "ragfleet secrets init" in json.dumps(report)
    assert not (tmp_path / "tls").exists()
