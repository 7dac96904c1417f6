"""Checks both Milvus modes share, collected by test_milvus_lite.py and
test_milvus_standalone.py under their own markers: the service reaches Milvus over TLS with its
token, nothing less gets in, and its user cannot manage Milvus."""

import pytest

from tests.infra.milvus_client import SERVICE_ENV_FILE, milvus_call, service_milvus_settings


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
