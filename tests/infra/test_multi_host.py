"""A fleet (the `multi_host` Molecule scenario), verified from the gateway host: HAProxy spreads
queries over every inference host, the hosts share one Redis answer cache, and a stopped service
costs no failed query while Prometheus reports its target down.

The other hosts are named by testinfra specs in RAGFLEET_INFERENCE_HOSTS (comma-separated) and
RAGFLEET_MONITORING_HOST; RAGFLEET_TEST_API_KEY is a key with the query and ingest scopes.
Disruptive: it stops one service (and starts it again)."""

import base64
import csv
import io
import os
import re
import time
import uuid
from typing import Any

import pytest
import testinfra

from tests.infra.artifacts import (
    FLEET_CA,
    monitoring_auth,
    prometheus_url,
    read_manifest,
    runs_trtllm_serve,
    service_url,
    trtllm_completions_since,
    wildcard_listeners,
)
from tests.infra.remote_http import request

pytestmark = pytest.mark.multi_host


def _hosts_from_env(name: str) -> list[Any]:
    specs = [spec for spec in os.environ.get(name, "").split(",") if spec]
    if not specs:
        pytest.fail(f"set {name} to testinfra host specs, e.g. ssh://inference-1")
    return [testinfra.get_host(spec) for spec in specs]


@pytest.fixture(scope="module")
def inference_hosts() -> list[Any]:
    hosts = _hosts_from_env("RAGFLEET_INFERENCE_HOSTS")
    assert len(hosts) >= 2, "a fleet check needs at least two inference hosts"
    return hosts


@pytest.fixture(scope="module")
def monitoring_host() -> Any:
    return _hosts_from_env("RAGFLEET_MONITORING_HOST")[0]


@pytest.fixture(scope="module")
def auth() -> dict[str, str]:
    key = os.environ.get("RAGFLEET_TEST_API_KEY", "")
    if not key:
        pytest.fail("set RAGFLEET_TEST_API_KEY to a key with the query and ingest scopes")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def document(host, gateway_url, gateway_ca, auth) -> dict[str, str]:
    doc_id = f"fleet-{uuid.uuid4().hex[:8]}"
    body = {
        "id": doc_id,
        "source": f"molecule/{doc_id}.md",
        "text": "The fleet's test harbour is called Port Tamsin; its ferry leaves at seven.",
        "metadata": {"category": "fleet"},
    }
    response = request(
        host,
        "POST",
        f"{gateway_url}/documents",
        json_body={"documents": [body]},
        headers=auth,
        cafile=gateway_ca,
    )
    assert response.status == 200, response.text
    yield body
    request(host, "DELETE", f"{gateway_url}/documents/{doc_id}", headers=auth, cafile=gateway_ca)


def _query(host, url: str, auth: dict[str, str], question: str, cafile: str | None = None):
    return request(
        host,
        "POST",
        f"{url}/query",
        headers=auth,
        cafile=cafile,
        timeout=180,
        json_body={"query": question, "context_filter": {"category": "fleet"}, "max_results": 2},
    )


def _server_sessions(host) -> dict[str, int]:
    """Total sessions per backend server, from HAProxy's statistics CSV on the gateway."""
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    bind = re.search(r"^frontend stats\n\s+bind (\S+)", config, re.MULTILINE)
    credentials = re.search(r"^\s+stats auth (\S+):(\S+)$", config, re.MULTILINE)
    assert bind, "haproxy.cfg has no stats frontend"
    assert credentials, "haproxy.cfg's stats frontend has no auth"
    token = base64.b64encode(f"{credentials.group(1)}:{credentials.group(2)}".encode()).decode()
    response = request(
        host,
        "GET",
        f"http://{bind.group(1)}/stats;csv",
        headers={"Authorization": f"Basic {token}"},
    )
    assert response.status == 200, response.text
    rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
    return {
        row["svname"]: int(row["stot"])
        for row in rows
        if row["pxname"] == "ragfleet_service" and row["svname"] not in {"FRONTEND", "BACKEND"}
    }


def test_queries_are_spread_over_every_inference_host(
    host, gateway_url, gateway_ca, auth, document, inference_hosts
):
    before = _server_sessions(host)
    assert len(before) == len(inference_hosts), before
    for n in range(2 * len(inference_hosts)):
        response = _query(host, gateway_url, auth, f"When does the ferry leave? ({n})", gateway_ca)
        assert response.status == 200, response.text
        assert document["source"] in response.json()["sources"]
    after = _server_sessions(host)
    idle = [name for name in after if after[name] <= before.get(name, 0)]
    assert not idle, f"no query reached {idle}: {before} -> {after}"


def test_a_second_host_answers_from_the_cache_the_first_filled(auth, document, inference_hosts):
    first, second = inference_hosts[:2]
    question = f"What is the harbour called? {uuid.uuid4().hex[:6]}"
    since = first.check_output("date +%s")
    miss = _query(first, service_url(first), auth, question, FLEET_CA)
    assert miss.status == 200, miss.text
    assert miss.json()["cached"] is False, "a fresh question came from the cache"
    if runs_trtllm_serve(read_manifest(first)):
        assert trtllm_completions_since(first, since) >= 1, "the host's trtllm-serve did not answer"
    hit = _query(second, service_url(second), auth, question, FLEET_CA)
    assert hit.status == 200, hit.text
    assert hit.json()["cached"] is True, "the second host generated again: no shared cache"
    assert hit.json()["answer"] == miss.json()["answer"]


def test_a_stopped_service_costs_no_query_and_shows_down(
    host, gateway_url, gateway_ca, auth, document, inference_hosts, monitoring_host
):
    stopped = inference_hosts[0]
    name = stopped.check_output("hostname")
    stopped.run("systemctl stop ragfleet")
    try:
        for n in range(4):
            response = _query(
                host, gateway_url, auth, f"Ferry time with one host down? {n}", gateway_ca
            )
            assert response.status == 200, f"query {n} with {name} stopped: {response.text}"
        deadline = time.monotonic() + 60
        down: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not down:
            result = request(
                monitoring_host,
                "GET",
                f"{prometheus_url(monitoring_host)}/api/v1/query?query=up%7Bjob%3D%22ragfleet%22%7D%3D%3D0",
                headers=monitoring_auth(monitoring_host),
                cafile=FLEET_CA,
            ).json()["data"]["result"]
            down = [r for r in result if r["metric"].get("instance") == name]
            time.sleep(2)
        assert down, f"Prometheus does not show {name}'s ragfleet target down after 60 s"
    finally:
        stopped.run("systemctl start ragfleet")


def test_no_host_of_the_fleet_listens_on_every_address_but_for_ssh_and_https(
    host, inference_hosts, monitoring_host
):
    """The gateway's 443 and SSH only: every other service binds loopback or the private address."""
    found = {}
    for member in [host, *inference_hosts, monitoring_host]:
        wildcard = wildcard_listeners(member)
        if wildcard:
            found[member.check_output("hostname")] = wildcard
    assert not found, f"listening on every address: {found}"


def test_between_hosts_only_tls_verified_by_the_fleet_ca_gets_through(
    host, inference_hosts, monitoring_host
):
    """Plaintext to the service and to Redis is refused; the gateway verifies each service."""
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    servers = re.findall(r"^\s+server (\S+) (\S+) check(.*)$", config, re.MULTILINE)
    assert len(servers) == len(inference_hosts), servers
    for name, _, options in servers:
        assert f"ssl verify required ca-file {FLEET_CA} verifyhost {name}" in options, options
    for inference in inference_hosts:
        url = service_url(inference)
        _wait_until_healthy(host, f"{url}/healthz")  # an earlier test restarts one service
        with pytest.raises(AssertionError, match="from the host failed") as refused:
            request(host, "GET", url.replace("https://", "http://", 1) + "/healthz", timeout=10)
        assert "Connection refused" not in str(refused.value), "the service is not listening"
    datastore = read_manifest(monitoring_host)["address"]
    assert "NOAUTH" in _redis_ping(inference_hosts[0], datastore, FLEET_CA)
    assert "NOAUTH" not in _redis_ping(inference_hosts[0], datastore, None)


def _wait_until_healthy(host: Any, url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if request(host, "GET", url, cafile=FLEET_CA, timeout=5).status == 200:
                return
        except AssertionError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer over TLS in {timeout_s:.0f} s"
        time.sleep(2)


_PING = r"""
import socket, ssl, sys
address, cafile = sys.argv[1], sys.argv[2]
sock = socket.create_connection((address, 6379), timeout=10)
if cafile:
    sock = ssl.create_default_context(cafile=cafile).wrap_socket(sock, server_hostname=address)
try:
    sock.sendall(b"PING\r\n")
    print(sock.recv(200).decode("utf-8", "replace"))
except OSError as error:
    print(f"refused: {error!r}")
"""


def _redis_ping(host: Any, address: str, cafile: str | None) -> str:
    """Redis's answer to an unauthenticated PING from ``host``, over TLS when ``cafile`` is set."""
    return host.check_output("python3 -c %s %s %s", _PING, address, cafile or "")
