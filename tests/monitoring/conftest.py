"""Fixtures of the monitoring tests: the roles' templates rendered by Ansible, and a live stack on
loopback (ragfleet serve, Prometheus, Alertmanager from Debian's packages, both over HTTPS with a
test CA's certificate), stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.adapters.free_port import free_loopback_port
from tests.integration.conftest import TEST_MAX_TOKENS, llm_server  # noqa: F401 (a fixture)
from tests.support.pki import ServerCertificate, TestCA

REPO = Path(__file__).resolve().parents[2]
# The basic-auth password of the live Prometheus and Alertmanager (a test value).
MONITORING_PASSWORD = "test-monitoring-password-0123"
ROLES = REPO / "ansible" / "roles"
PROMETHEUS_ROLE = ROLES / "prometheus"
GRAFANA_ROLE = ROLES / "grafana"
RULES_DIR = PROMETHEUS_ROLE / "files" / "rules"
RULE_TESTS_DIR = PROMETHEUS_ROLE / "files" / "rules_tests"
METRIC_LISTS_DIR = PROMETHEUS_ROLE / "files" / "metric_lists"
DASHBOARDS_DIR = GRAFANA_ROLE / "files" / "dashboards"
RUNBOOKS = REPO / "docs" / "runbooks.md"
RAGFLEET = str(Path(sys.executable).with_name("ragfleet"))
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def tool(name: str) -> str:
    """Path of a Debian tool the tests need, or a failure that says how to get it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make system-deps` installs it (as root)")
    return path


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of files/rules, with the file it came from under ``_file``."""
    rules = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules.append({**rule, "_file": path.name})
    return rules


def recording_rules(paths: list[Path]) -> list[dict[str, Any]]:
    return [
        rule
        for path in paths
        for group in load_yaml(path)["groups"]
        for rule in group["rules"] or []
        if "record" in rule
    ]


@dataclass(frozen=True)
class Ports:
    ragfleet: int
    prometheus: int
    alertmanager: int


@pytest.fixture(scope="session")
def ports() -> Ports:
    return Ports(free_loopback_port(), free_loopback_port(), free_loopback_port())


INVENTORY = {
    "all": {
        "vars": {"ragfleet_profile": "medium", "ragfleet_deployment": "test"},
        "children": {
            "gpu_inference": {
                "hosts": {
                    "gpu-1": {"private_ip": "127.0.0.1"},
                    "gpu-2": {"private_ip": "127.0.0.2", "ragfleet_profile": "large"},
                }
            },
            "datastore": {
                "hosts": {
                    "db-1": {"private_ip": "127.0.0.3", "milvus_mode": "standalone"},
                    "db-2": {"private_ip": "127.0.0.5", "milvus_mode": "lite"},
                }
            },
            "monitoring": {
                "hosts": {"mon-1": {"private_ip": "127.0.0.1", "ansible_connection": "local"}}
            },
            "gateway": {"hosts": {"gw-1": {"private_ip": "127.0.0.4"}}},
        },
    }
}


@dataclass(frozen=True)
class Pki:
    """The test CA and the monitoring host's certificate for loopback, as fleet_tls issues one."""

    ca: TestCA
    server: ServerCertificate

    def context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only."""
        return ssl.create_default_context(cafile=self.ca.ca_file)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    return Pki(ca, ca.issue("monitoring"))


@dataclass(frozen=True)
class Rendered:
    """Templates of both roles rendered by ansible-playbook with the roles' own defaults."""

    root: Path
    rules_dir: Path  # the role's rule files plus the rendered expectations, as on a host

    def prometheus(self, name: str) -> Path:
        return self.root / "prometheus" / name

    def grafana(self, name: str) -> Path:
        return self.root / "grafana" / name


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, ports: Ports, pki: Pki) -> Rendered:
    """Render through a throwaway role made of each real role's defaults, templates and files, so
    that variables have role-default precedence and the templates see a real inventory."""
    work = tmp_path_factory.mktemp("render")
    out = work / "out"
    rules_dir = work / "rules"
    for role in (PROMETHEUS_ROLE, GRAFANA_ROLE):
        copy = work / "roles" / role.name
        (copy / "tasks").mkdir(parents=True)
        for part in ("defaults", "templates", "files", "vars"):
            if (role / part).exists():
                (copy / part).symlink_to(role / part)
        shutil.copy(Path(__file__).with_name("render_tasks.yml"), copy / "tasks" / "main.yml")
        (out / role.name).mkdir(parents=True)
    (work / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
    (work / "play.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render the monitoring roles",
                    "hosts": "monitoring",
                    "gather_facts": False,
                    "roles": ["prometheus", "grafana"],
                }
            ]
        )
    )
    # The live test scrapes and evaluates every second, Prometheus reads the rules from a
    # temporary directory, and both serve HTTPS with the test CA's certificate as site.yml gives
    # them the fleet's; everything else is the roles' defaults.
    extra = {
        "prometheus_tls_cert_file": str(pki.server.cert_file),
        "prometheus_tls_key_file": str(pki.server.key_file),
        "prometheus_tls_ca_file": str(pki.ca.ca_file),
        "prometheus_tls_group": "ragfleet-tls",
        "prometheus_tls_fingerprint": "test-fingerprint",
        "render_out": str(out),
        "prometheus_rules_dir": str(rules_dir),
        "prometheus_hardware_profiles_dir": str(REPO / "hardware_profiles"),
        "prometheus_basic_auth_password": MONITORING_PASSWORD,
        "prometheus_basic_auth_password_bcrypt": bcrypt.hashpw(
            MONITORING_PASSWORD.encode(), bcrypt.gensalt(rounds=4)
        ).decode(),
        "grafana_datasource_basic_auth_password": MONITORING_PASSWORD,
        "grafana_prometheus_url": f"https://127.0.0.1:{ports.prometheus}",
        "grafana_alertmanager_url": f"https://127.0.0.1:{ports.alertmanager}",
        "grafana_tls_ca_file": str(pki.ca.ca_file),
        "grafana_tls_cert_file": str(pki.server.cert_file),
        "grafana_tls_key_file": str(pki.server.key_file),
        "grafana_tls_group": "ragfleet-tls",
        "grafana_tls_fingerprint": "test-fingerprint",
        "prometheus_ragfleet_port": ports.ragfleet,
        "prometheus_web_listen_address": f"127.0.0.1:{ports.prometheus}",
        "prometheus_alertmanager_web_listen_address": f"127.0.0.1:{ports.alertmanager}",
        "prometheus_alertmanager_port": ports.alertmanager,
        "prometheus_scrape_interval": "1s",
        "prometheus_scrape_timeout": "1s",
        "prometheus_evaluation_interval": "1s",
    }
    for name in ("node_exporter", "redis_exporter", "milvus", "dcgm_exporter"):
        extra[f"prometheus_{name}_port"] = free_loopback_port()  # nothing listens there
    (work / "extra.json").write_text(json.dumps(extra))
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(work / "roles"),
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),  # none: the repository's does not apply
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    result = run(
        [ANSIBLE_PLAYBOOK, "-i", "inventory.yml", "play.yml", "-e", "@extra.json"],
        cwd=work,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules_dir.mkdir()
    for path in RULES_DIR.glob("*.yml"):
        shutil.copy(path, rules_dir / path.name)
    shutil.copy(out / "prometheus" / "ragfleet_expectations.yml", rules_dir / "expectations.yml")
    return Rendered(out, rules_dir)


def wait_for(check: Any, what: str, timeout: float = 30) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(0.25)
    pytest.fail(f"{what} not reached in {timeout} s (last: {last!r})")


class Process:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def assert_running(self) -> None:
        assert self.popen.poll() is None, self.log.read_text()

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclass(frozen=True)
class Service:
    base: str
    scrape: str  # /metrics after a little traffic


@pytest.fixture(scope="session")
def ragfleet_service(
    tmp_path_factory: pytest.TempPathFactory,
    llm_server: EmbeddedLLMServer,  # noqa: F811 (the imported fixture)
    ports: Ports,
) -> Iterator[Service]:
    """`ragfleet serve` with one worker (every metric family is exported from the start), after one
    ingest, one answered query and one rejected request."""
    work = tmp_path_factory.mktemp("ragfleet")
    env = {
        **os.environ,
        "RAGFLEET_DATA_DIR": str(work / "data"),
        "RAGFLEET_LLM_BASE_URL": llm_server.base_url,
        "RAGFLEET_LLM_MAX_TOKENS": str(TEST_MAX_TOKENS),
    }
    process = Process(
        [RAGFLEET, "serve", "--port", str(ports.ragfleet), "--workers", "1"], work / "log", env
    )
    base = f"http://127.0.0.1:{ports.ragfleet}"
    try:

        def ready() -> bool:
            process.assert_running()
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200

        wait_for(ready, "ragfleet ready", timeout=90)
        document = {"id": "ops/alerts.md", "text": "Alerts page the on-call engineer."}
        response = httpx.post(f"{base}/documents", json={"documents": [document]}, timeout=60)
        assert response.status_code == 200, response.text
        response = httpx.post(f"{base}/query", json={"query": "Who do alerts page?"}, timeout=60)
        assert response.status_code == 200, response.text
        assert httpx.post(f"{base}/query", json={}, timeout=10).status_code == 400
        scrape = httpx.get(f"{base}/metrics", timeout=10)
        assert scrape.status_code == 200, scrape.text
        yield Service(base, scrape.text)
    finally:
        process.stop()


@dataclass(frozen=True)
class Stack:
    prometheus: str
    alertmanager: str
    prometheus_log: Path
    alertmanager_log: Path
    # Both serve HTTPS under the test CA's certificate: clients verify against it.
    tls: ssl.SSLContext
    # Both run with the rendered web.yml: every request needs the basic-auth user.
    auth: tuple[str, str] = ("ragfleet", MONITORING_PASSWORD)

    def get(self, url: str, timeout: float = 5, **kwargs: Any) -> httpx.Response:
        """GET as Grafana or an operator would: the CA, the user, a timeout."""
        return httpx.get(url, auth=self.auth, verify=self.tls, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def monitoring_stack(
    tmp_path_factory: pytest.TempPathFactory,
    rendered: Rendered,
    ragfleet_service: Service,
    ports: Ports,
    pki: Pki,
) -> Iterator[Stack]:
    """Debian's Prometheus and Alertmanager on loopback with the rendered configurations: HTTPS
    and basic auth from the rendered web.yml."""
    work = tmp_path_factory.mktemp("stack")
    alertmanager = Process(
        [
            tool("prometheus-alertmanager"),
            f"--config.file={rendered.prometheus('alertmanager.yml')}",
            f"--storage.path={work / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
            f"--web.config.file={rendered.prometheus('web.yml')}",
            "--cluster.listen-address=",
        ],
        work / "alertmanager.log",
    )
    prometheus = Process(
        [
            tool("prometheus"),
            f"--config.file={rendered.prometheus('prometheus.yml')}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
            f"--web.config.file={rendered.prometheus('web.yml')}",
            # Firing alerts are re-sent every minute by default; the first send can come before
            # the Alertmanager is discovered. Re-send every second so the test need not wait.
            "--rules.alert.resend-delay=1s",
        ],
        work / "prometheus.log",
    )
    stack = Stack(
        f"https://127.0.0.1:{ports.prometheus}",
        f"https://127.0.0.1:{ports.alertmanager}",
        work / "prometheus.log",
        work / "alertmanager.log",
        pki.context(),
    )
    try:

        def ready() -> bool:
            prometheus.assert_running()
            alertmanager.assert_running()
            return all(
                stack.get(f"{base}/-/ready").status_code == 200
                for base in (stack.prometheus, stack.alertmanager)
            )

        wait_for(ready, "Prometheus and Alertmanager ready")
        yield stack
    finally:
        prometheus.stop()
        alertmanager.stop()
