"""End to end on a converged all-in-one host (the `default` Molecule scenario), as a user sees it:
a document ingested and a question answered through the gateway over verified TLS, Redis closed
to anyone without its password, and nothing listening on every address that should not.

The API key comes from RAGFLEET_TEST_API_KEY (scopes query+ingest); the scenario sets it."""

import os
import uuid

import pytest

from tests.infra.artifacts import (
    FLEET_CA,
    runs_trtllm_serve,
    trtllm_completions_since,
    wildcard_listeners,
)
from tests.infra.remote_http import request

pytestmark = pytest.mark.all_in_one


@pytest.fixture(scope="module")
def api_key() -> str:
    key = os.environ.get("RAGFLEET_TEST_API_KEY", "")
    if not key:
        pytest.fail("set RAGFLEET_TEST_API_KEY to a key with the query and ingest scopes")
    return key


@pytest.fixture(scope="module")
def ingested_document(host, gateway_url, gateway_ca, api_key) -> dict[str, str]:
    """One document whose answer can only come from it; removed again after the module."""
    doc_id = f"molecule-{uuid.uuid4().hex[:8]}"
    document = {
        "id": doc_id,
        "source": f"molecule/{doc_id}.md",
        "text": (
            "The ragfleet Molecule lighthouse stands on Quokka Point. Its lamp is tended by a "
            "keeper named Orsolya, who paints the tower teal every spring."
        ),
        "metadata": {"category": "molecule"},
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    response = request(
        host,
        "POST",
        f"{gateway_url}/documents",
        json_body={"documents": [document]},
        headers=headers,
        cafile=gateway_ca,
    )
    assert response.status in (200, 201), response.text
    assert response.json()["ingested"] == 1
    yield document
    request(host, "DELETE", f"{gateway_url}/documents/{doc_id}", headers=headers, cafile=gateway_ca)


def test_query_through_the_gateway_answers_with_sources(
    host, gateway_url, gateway_ca, api_key, ingested_document
):
    question = "Who tends the lamp of the lighthouse on Quokka Point?"
    response = _ask(host, gateway_url, gateway_ca, api_key, question)
    assert response.status == 200, response.text
    body = response.json()
    assert body["answer"].strip(), body
    assert ingested_document["source"] in body["sources"], body["sources"]
    assert response.header("X-Request-ID"), "the gateway's request id did not come back"


def test_the_answer_is_generated_by_the_hosts_trtllm_serve(
    host, manifest, gateway_url, gateway_ca, api_key, ingested_document
):
    """On a GPU host the service generates through the trtllm-serve container, not its embedded
    llama.cpp: the container's journal shows the completion request this query caused."""
    if not runs_trtllm_serve(manifest):
        pytest.skip("no trtllm-serve here: the service generates with its embedded llama.cpp")
    since = host.check_output("date +%s")
    question = "Which colour does the keeper paint the Quokka Point tower?"
    response = _ask(host, gateway_url, gateway_ca, api_key, question)
    assert response.status == 200, response.text
    assert response.json()["cached"] is False
    assert trtllm_completions_since(host, since) >= 1, "trtllm-serve logged no completion"


def test_the_gateway_refuses_a_query_without_a_key(host, gateway_url, gateway_ca):
    response = request(
        host, "POST", f"{gateway_url}/query", json_body={"query": "hi"}, cafile=gateway_ca
    )
    assert response.status == 401, response.text


def test_redis_requires_tls_and_its_password(host, manifest):
    for address in ("127.0.0.1", manifest["address"]):
        reply = host.run(f"redis-cli --tls --cacert {FLEET_CA} -h {address} -p 6379 ping")
        assert "NOAUTH" in reply.stdout + reply.stderr, (
            f"Redis on {address} answered {reply.stdout!r}"
        )
        plaintext = host.run(f"redis-cli -h {address} -p 6379 ping")
        assert plaintext.rc != 0 or "PONG" not in plaintext.stdout
        assert "NOAUTH" not in plaintext.stdout + plaintext.stderr, "Redis answered plaintext"


def test_nothing_unexpected_listens_on_every_address(host):
    wildcard = wildcard_listeners(host)
    assert not wildcard, f"listening on every address: {wildcard}"


def _ask(host, gateway_url: str, gateway_ca: str, api_key: str, question: str):
    """A question about the ingested document, through the gateway over verified TLS."""
    return request(
        host,
        "POST",
        f"{gateway_url}/query",
        json_body={"query": question, "context_filter": {"category": "molecule"}, "max_results": 3},
        headers={"Authorization": f"Bearer {api_key}"},
        cafile=gateway_ca,
        timeout=180,
    )
