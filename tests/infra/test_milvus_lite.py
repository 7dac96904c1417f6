"""The milvus role in lite mode: Milvus Lite's server behind the role's gate (TLS, users,
privileges) from its own venv, as the milvus user, on the private address only, with its data on
the data path."""

import re

import pytest

# The checks both modes share (tests/infra/milvus_access_checks.py), collected here under this
# module's marker.
from tests.infra.milvus_access_checks import (  # noqa: F401
    service_milvus,
    test_the_service_talks_to_milvus_over_tls_with_a_token,
    test_the_service_token_works_over_tls_and_nothing_less_does,
    test_the_service_user_may_not_manage_milvus,
)

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
    data = host.file(f"{manifest['data_dir']}/milvus/lite")
    assert data.is_directory
    assert (data.user, data.group, data.mode) == ("milvus", "milvus", 0o750)


def test_users_are_digests_in_a_root_only_file(host):
    env = host.file("/etc/milvus/milvus-lite.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert '"sha256"' in env.content_string
