"""Milvus between hosts (the `multi_host` scenario), checked from each inference host, where the
service runs: the datastore's Milvus answers the service's token over TLS verified with the
fleet CA, and refuses plaintext, no token, a wrong one and root's published default password.

The inference hosts are named by testinfra specs in RAGFLEET_INFERENCE_HOSTS (comma-separated)."""

import os
from typing import Any

import pytest
import testinfra

from tests.infra.milvus_client import milvus_call, service_milvus_settings

pytestmark = pytest.mark.multi_host


@pytest.fixture(scope="module")
def inference_hosts() -> list[Any]:
    specs = [spec for spec in os.environ.get("RAGFLEET_INFERENCE_HOSTS", "").split(",") if spec]
    if not specs:
        pytest.fail("set RAGFLEET_INFERENCE_HOSTS to testinfra host specs")
    return [testinfra.get_host(spec) for spec in specs]


def test_each_service_reaches_the_datastore_milvus_over_tls_with_its_token(inference_hosts):
    for inference in inference_hosts:
        settings = service_milvus_settings(inference)
        uri = settings["RAGFLEET_MILVUS_URI"]
        assert uri.startswith("https://")
        assert "127.0.0.1" not in uri, "the service should reach the datastore host's Milvus"
        ca = settings["RAGFLEET_TLS_CA_FILE"]
        assert milvus_call(inference, uri, settings["RAGFLEET_MILVUS_TOKEN"], ca) == "ok"


def test_the_datastore_milvus_refuses_plaintext_and_bad_tokens_from_another_host(
    inference_hosts,
):
    inference = inference_hosts[0]
    settings = service_milvus_settings(inference)
    uri, token = settings["RAGFLEET_MILVUS_URI"], settings["RAGFLEET_MILVUS_TOKEN"]
    ca = settings["RAGFLEET_TLS_CA_FILE"]
    plaintext = uri.replace("https://", "http://", 1)
    assert milvus_call(inference, plaintext, token, ca).startswith("refused")
    for refused in ("", "root:Milvus", "ragfleet_service:wrong-password"):
        answer = milvus_call(inference, uri, refused, ca)
        assert answer.startswith("refused"), refused.partition(":")[0] or "no token"
    answer = milvus_call(inference, uri, token, ca, "create_user")
    assert "PERMISSION_DENIED" in answer, answer
