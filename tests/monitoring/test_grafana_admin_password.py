"""The grafana role's admin password rotation (tasks/admin_password.yml), run by ansible-playbook
on this machine: Grafana takes GF_SECURITY_ADMIN_PASSWORD on its first start only, so the role asks
Grafana's API whether the vault's password logs in and, when it is refused, sets it with
`grafana cli admin reset-admin-password`.

No Grafana installs here (its apt repository is unreachable). Two stand-ins keep Grafana's
contract instead: an HTTPS server answering GET /api/user as Grafana does (200 with the user for
the right basic-auth password, 401 otherwise), under the test CA's certificate, with the admin
password in a file as Grafana keeps it in its database; and a `grafana` executable first on PATH
that accepts only the CLI's command line (global flags before `admin reset-admin-password
--password-from-stdin`), reads the password from the first line of stdin, refuses a password
shorter than 4 characters as Grafana does, writes it to that file, and records its argv."""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.conftest import ANSIBLE_PLAYBOOK, GRAFANA_ROLE, Pki, run

ADMIN = "admin"
VAULT_PASSWORD = "vault-admin-password-2026"
OLD_PASSWORD = "first-start-password-2025"

# The command line the role must run: `grafana cli` with the deb's home, configuration and the
# paths its unit passes to the server, so that the CLI opens the server's database.
EXPECTED_ARGV = [
    "cli",
    "--homepath",
    "/usr/share/grafana",
    "--config",
    "/etc/grafana/grafana.ini",
    "--configOverrides",
    "cfg:default.paths.data=/var/lib/grafana cfg:default.paths.logs=/var/log/grafana"
    " cfg:default.paths.plugins=/var/lib/grafana/plugins",
    "admin",
    "reset-admin-password",
    "--password-from-stdin",
]

# The stand-in for Grafana's CLI. Global flags (urfave/cli) must precede the command; the
# password comes from stdin's first line (bufio.Scanner: the line ending is dropped).
STUB_CLI = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_GRAFANA_CALLS"], "a") as calls:
    stdin = sys.stdin.read()
    calls.write(json.dumps({{"argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
if sys.argv[1:] != {EXPECTED_ARGV!r}:
    sys.exit("Incorrect Usage: " + " ".join(sys.argv[1:]))
password = stdin.split("\\n", 1)[0].removesuffix("\\r")
if len(password) < 4:
    sys.exit("new password is too short")
if os.environ.get("FAKE_GRAFANA_OTHER_DATABASE"):
    sys.exit(0)  # wrote a database the server does not read: the role must notice
with open(os.environ["FAKE_GRAFANA_DB"], "w") as db:
    db.write(password)
print("Admin password changed successfully")
"""


@dataclass
class FakeGrafana:
    """GET /api/user as Grafana answers it, over HTTPS; the admin password lives in ``db``."""

    db: Path
    port: int = 0
    logins: list[int] = field(default_factory=list)  # the status of each /api/user request

    def password(self) -> str:
        return self.db.read_text()


def _handler(grafana: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/api/user":
                self._answer(404, {"message": "Not found"})
                return
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            user, _, password = base64.b64decode(token).decode().partition(":")
            if scheme == "Basic" and user == ADMIN and password == grafana.password():
                body = {"id": 1, "login": ADMIN, "isGrafanaAdmin": True}
                self._answer(200, body)
            else:
                self._answer(401, {"message": "Invalid username or password"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            if self.path == "/api/user":
                grafana.logins.append(status)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def grafana(tmp_path: Path, pki: Pki) -> Iterator[FakeGrafana]:
    fake = FakeGrafana(tmp_path / "grafana.db")
    fake.db.write_text(OLD_PASSWORD)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert_file, pki.server.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Converge:
    returncode: int
    output: str
    calls: list[dict[str, Any]]


def _converge(
    tmp_path: Path,
    grafana: FakeGrafana,
    pki: Pki,
    variables: dict[str, Any] | None = None,
    **env: str,
) -> Converge:
    """Run tasks/admin_password.yml as the role does (its defaults and vars, the vault's password,
    then ``variables``), with the stand-in CLI first on PATH; become is off here (the role runs
    the CLI as grafana)."""
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir(exist_ok=True)
    stub = stub_dir / "grafana"
    stub.write_text(STUB_CLI)
    stub.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    calls.unlink(missing_ok=True)
    play = [
        {
            "name": "Grafana's admin password",
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [
                str(GRAFANA_ROLE / "defaults" / "main.yml"),
                str(GRAFANA_ROLE / "vars" / "main.yml"),
            ],
            "tasks": [
                {"ansible.builtin.import_tasks": str(GRAFANA_ROLE / "tasks" / "admin_password.yml")}
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    extra = {
        "grafana_admin_password": VAULT_PASSWORD,
        "grafana_http_addr": "127.0.0.1",
        "grafana_http_port": grafana.port,
        "grafana_tls_cert_file": str(pki.server.cert_file),
        "grafana_tls_key_file": str(pki.server.key_file),
        "grafana_tls_ca_file": str(pki.ca.ca_file),
        "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
        **(variables or {}),
    }
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    result = run(
        [
            ANSIBLE_PLAYBOOK,
            "-v",
            "-i",
            "localhost,",
            "-c",
            "local",
            "play.yml",
            "-e",
            "@extra.json",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{stub_dir}{os.pathsep}{os.environ['PATH']}",
            "ANSIBLE_CONFIG": str(
                tmp_path / "ansible.cfg"
            ),  # none: the repository's does not apply
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "FAKE_GRAFANA_DB": str(grafana.db),
            "FAKE_GRAFANA_CALLS": str(calls),
            **env,
        },
    )
    recorded = (
        [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    )
    return Converge(result.returncode, result.stdout + result.stderr, recorded)


def test_a_rotated_vault_password_is_set_with_grafanas_cli(
    tmp_path: Path, grafana: FakeGrafana, pki: Pki
) -> None:
    """Grafana still has the password of its first start: the vault's is refused (401), the role
    runs the CLI once, and the vault's password logs in afterwards."""
    first = _converge(tmp_path, grafana, pki)
    assert first.returncode == 0, first.output
    assert [call["argv"] for call in first.calls] == [EXPECTED_ARGV]
    assert first.calls[0]["stdin"] == VAULT_PASSWORD + "\n"
    assert grafana.password() == VAULT_PASSWORD
    assert grafana.logins == [401, 200]
    assert "changed=1" in first.output
    assert VAULT_PASSWORD not in first.output  # no_log on every task that carries it

    again = _converge(tmp_path, grafana, pki)
    assert again.returncode == 0, again.output
    assert again.calls == [], "the password already logs in: no reset"
    assert "changed=0" in again.output
    assert grafana.logins == [401, 200, 200]


def test_the_current_password_changes_nothing(
    tmp_path: Path, grafana: FakeGrafana, pki: Pki
) -> None:
    grafana.db.write_text(VAULT_PASSWORD)
    result = _converge(tmp_path, grafana, pki)
    assert result.returncode == 0, result.output
    assert result.calls == []
    assert grafana.logins == [200]
    assert "changed=0" in result.output


def test_a_failing_cli_fails_the_run_without_printing_the_password(
    tmp_path: Path, grafana: FakeGrafana, pki: Pki
) -> None:
    """Grafana refuses a password under 4 characters; the vault never holds one (preflight wants
    12), so a short one stands for any failure of the CLI."""
    result = _converge(tmp_path, grafana, pki, {"grafana_admin_password": "abc"})
    assert result.returncode != 0
    assert len(result.calls) == 1
    assert grafana.password() == OLD_PASSWORD
    assert "Set the vault's admin password in Grafana's database" in result.output
    assert "censored" in result.output


def test_a_reset_that_does_not_reach_grafana_fails_the_run(
    tmp_path: Path, grafana: FakeGrafana, pki: Pki
) -> None:
    """The CLI exits 0 but wrote another database (say, without the deb's data path): the second
    login is refused and the run fails instead of claiming success."""
    result = _converge(tmp_path, grafana, pki, FAKE_GRAFANA_OTHER_DATABASE="1")
    assert result.returncode != 0
    assert len(result.calls) == 1
    assert grafana.logins == [401, 401]
    assert "Log in again with the vault's admin password" in result.output
    assert VAULT_PASSWORD not in result.output
