"""The ragfleet_service role: the venv and unit, the secrets file, the private bind, and a service
that reports ready with its Milvus, Redis and generator reachable."""

import re

import pytest

from tests.infra.artifacts import FLEET_CA, service_url
from tests.infra.remote_http import request

pytestmark = pytest.mark.ragfleet_service

ENV_FILE = "/etc/ragfleet/ragfleet.env"


def test_service_active_and_enabled(host):
    service = host.service("ragfleet")
    assert service.is_running
    assert service.is_enabled


def test_system_user_cannot_log_in(host):
    user = host.user("ragfleet")
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


def test_secrets_are_readable_by_the_service_only(host):
    directory = host.file("/etc/ragfleet")
    assert (directory.user, directory.group, directory.mode) == ("root", "ragfleet", 0o750)
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", "ragfleet", 0o640)
    content = env.content_string
    # Keys are stored as hashes: name:64-hex:scopes, never a raw rf_ key.
    assert "rf_" not in content
    assert re.search(r"^RAGFLEET_API_KEYS=.*:[0-9a-f]{64}:", content, re.MULTILINE)


def test_listens_on_the_private_address_only(host, manifest):
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":8000")]
    assert listening == [f"tcp://{manifest['address']}:8000"], listening


def test_ready_with_its_dependencies(host, manifest):
    response = request(host, "GET", f"{service_url(host)}/readyz", cafile=FLEET_CA)
    assert response.status == 200, response.text
    checks = response.json()
    assert checks.get("status") == "ready", checks


def test_query_needs_a_key(host, manifest):
    response = request(
        host, "POST", f"{service_url(host)}/query", json_body={"query": "hello"}, cafile=FLEET_CA
    )
    assert response.status == 401, response.text
