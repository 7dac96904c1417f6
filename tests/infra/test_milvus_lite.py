"""The milvus role in lite mode: Milvus Lite's server behind the role's gate (TLS, users,
privileges) from its own venv, as the milvus user, on the private address only, with its data on
the data path."""

import re

import pytest

from tests.infra.milvus_client import SERVICE_ENV_FILE, milvus_call, service_milvus_settings

pytestmark = pytest.mark.milvus

UNIT = "/etc/systemd/system/milvus-lite.service"


def test_service_active_and_enabled(host):
    service = host.service("milvus-lite")
    assert service.is_running
    assert service.is_enabled


def test_runs_as_the_milvus_user_from_its_venv(host):
    content = host.file(UNIT).content_string
    assert re.search(r"^User=milvus$", content, re.MULTILINE)
    assert re.search(
        r"^ExecStart=/opt/milvus-lite/bin/python /opt/milvus-lite/milvus_gate.py "
        r".*--tls-cert-file ",
        content,
        re.MULTILINE,
    )
    for setting in ("NoNewPrivileges=true", "ProtectSystem=strict", "CapabilityBoundingSet="):
        assert re.search(rf"^{re.escape(setting)}$", content, re.MULTILINE), setting


def test_listens_on_the_private_address_only(host, manifest):
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":19530")]
    assert listening, "nothing listens on 19530"
    for socket in listening:
        assert manifest["address"] in socket, f"Milvus Lite listens on {socket}"


def test_data_is_private_to_milvus(host, manifest):
    data = host.file(f"{manifest['data_path']}/milvus/lite")
    assert data.is_directory
    assert (data.user, data.group, data.mode) == ("milvus", "milvus", 0o750)


def test_users_are_digests_in_a_root_only_file(host):
    env = host.file("/etc/milvus/milvus-lite.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert '"sha256"' in env.content_string


# --- authentication and TLS, with the service's own settings ---------------------------------


@pytest.fixture(scope="module")
def service_milvus(host, manifest):
    """The service's Milvus URI, token and CA, where this host runs the service and Milvus."""
    if not manifest["install"]:
        pytest.skip("nothing runs without the install switch")
    if not host.file(SERVICE_ENV_FILE).exists:
        pytest.skip("the service runs on another host (test_multi_host checks from there)")
    return service_milvus_settings(host)


def test_the_service_talks_to_milvus_over_tls_with_a_token(service_milvus):
    assert service_milvus["RAGFLEET_MILVUS_URI"].startswith("https://")
    assert service_milvus["RAGFLEET_TLS_CA_FILE"]
    user, _, password = service_milvus["RAGFLEET_MILVUS_TOKEN"].partition(":")
    assert user == "ragfleet_service"
    assert len(password) >= 32


def test_the_service_token_works_over_tls_and_nothing_less_does(host, service_milvus):
    uri = service_milvus["RAGFLEET_MILVUS_URI"]
    token = service_milvus["RAGFLEET_MILVUS_TOKEN"]
    ca = service_milvus["RAGFLEET_TLS_CA_FILE"]
    assert milvus_call(host, uri, token, ca) == "ok"
    plaintext = uri.replace("https://", "http://", 1)
    assert milvus_call(host, plaintext, token, ca).startswith("refused")
    for refused_token in ("", "root:Milvus", "ragfleet_service:wrong-password"):
        answer = milvus_call(host, uri, refused_token, ca)
        assert answer.startswith("refused"), refused_token.partition(":")[0] or "no token"


@pytest.mark.parametrize("action", ["create_user", "drop_database"])
def test_the_service_user_may_not_manage_milvus(host, service_milvus, action):
    answer = milvus_call(
        host,
        service_milvus["RAGFLEET_MILVUS_URI"],
        service_milvus["RAGFLEET_MILVUS_TOKEN"],
        service_milvus["RAGFLEET_TLS_CA_FILE"],
        action,
    )
    assert answer.startswith("refused"), answer
    assert "PERMISSION_DENIED" in answer, answer
