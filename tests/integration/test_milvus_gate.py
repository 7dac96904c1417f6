"""The milvus role's lite-mode server (ansible/roles/milvus/files/milvus_gate.py) started for real
on loopback with a fleet CA's certificate: TLS only, every call authenticated, the service user
limited to the calls the service makes; the service's own vector store adapter talks to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from ragfleet.adapters.document_store import MilvusDocumentStore, StoredDocument
from ragfleet.adapters.free_port import free_loopback_port
from ragfleet.adapters.vector_store import ChunkRecord, MilvusVectorStore
from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.settings import StoreSettings
from tests.support.pki import TestCA

GATE = Path(__file__).resolve().parents[2] / "ansible/roles/milvus/files/milvus_gate.py"
sys.path.insert(0, str(GATE.parent))

import milvus_gate  # noqa: E402

ROOT_PASSWORD = "root-password-for-the-test-1"
SERVICE_USER = "ragfleet_service"
SERVICE_PASSWORD = "service-password-for-the-test-1"
# What the milvus role grants the service user.
SERVICE_PRIVILEGES: list[str] = yaml.safe_load(
    (GATE.parents[1] / "defaults" / "main.yml").read_text()
)["milvus_service_privileges"]
DIM = 4


@dataclass(frozen=True)
class GateServer:
    port: int
    ca_file: Path

    @property
    def uri(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, token: str, **kwargs: object) -> MilvusClient:
        return MilvusClient(
            uri=self.uri, token=token, server_pem_path=str(self.ca_file), timeout=10, **kwargs
        )


def _users() -> str:
    return json.dumps(
        {
            "root": {"sha256": milvus_gate.password_digest("root", ROOT_PASSWORD)},
            SERVICE_USER: {
                "sha256": milvus_gate.password_digest(SERVICE_USER, SERVICE_PASSWORD),
                "privileges": SERVICE_PRIVILEGES,
            },
        }
    )


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def gate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateServer]:
    directory = tmp_path_factory.mktemp("milvus-gate")
    ca = TestCA(directory / "pki")
    certificate = ca.issue("milvus")
    port = free_loopback_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(GATE),
            "--data-dir",
            str(directory / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--tls-cert-file",
            str(certificate.cert_file),
            "--tls-key-file",
            str(certificate.key_file),
        ],
        env={"PATH": os.environ["PATH"], "MILVUS_GATE_USERS": _users()},
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert process.poll() is None, "the gate server exited"
            assert time.monotonic() < deadline, "the gate server did not listen"
            time.sleep(0.1)
        yield GateServer(port, ca.ca_file)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_plaintext_client_is_refused(gate_server: GateServer) -> None:
    # "localhost": pymilvus would reuse another test's TLS channel to the same address and token.
    with pytest.raises(MilvusException):
        MilvusClient(
            uri=f"http://localhost:{gate_server.port}",
            token=f"root:{ROOT_PASSWORD}",
            timeout=3,
        )


def test_the_port_never_speaks_plaintext_http2(gate_server: GateServer) -> None:
    """A plaintext gRPC server answers the HTTP/2 preface with a SETTINGS frame (type 4); this
    one answers with a TLS alert or closes."""
    with socket.create_connection(("127.0.0.1", gate_server.port), timeout=5) as connection:
        connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(9))
        try:
            answer = connection.recv(64)
        except ConnectionResetError:
            answer = b""
    assert not (len(answer) >= 9 and answer[3] == 4), answer


def test_a_server_certificate_from_another_ca_is_refused(
    gate_server: GateServer, tmp_path: Path
) -> None:
    other = TestCA(tmp_path / "other", name="not the fleet CA")
    with pytest.raises(MilvusException):
        MilvusClient(
            uri=gate_server.uri,
            token=f"root:{ROOT_PASSWORD}",
            server_pem_path=str(other.ca_file),
            timeout=3,
        )


@pytest.mark.parametrize(
    "token",
    ["", f"root:{milvus_gate.PUBLISHED_ROOT_PASSWORD}", "root:wrong-password", "nobody:whatever"],
    ids=["none", "published-root-default", "wrong-password", "unknown-user"],
)
def test_calls_without_valid_credentials_are_unauthenticated(
    gate_server: GateServer, token: str
) -> None:
    with pytest.raises(MilvusException):
        gate_server.client(token)


async def test_the_service_user_stores_and_searches_through_the_adapter(
    gate_server: GateServer, tmp_path: Path
) -> None:
    settings = StoreSettings(
        data_dir=tmp_path / "data",
        milvus_uri=gate_server.uri,
        milvus_token=f"{SERVICE_USER}:{SERVICE_PASSWORD}",
        milvus_collection="gate_chunks",
    )
    settings.validate()
    store = MilvusVectorStore(settings, dim=DIM, tls_ca_file=str(gate_server.ca_file))
    documents = MilvusDocumentStore(store.connection)
    try:
        await store.ensure_ready()
        await documents.put(StoredDocument("doc-1", "Milvus behind TLS", "test", "abc"))
        assert await documents.has("doc-1", "abc")
        chunk = ChunkRecord(
            doc_id="doc-1",
            chunk_index=0,
            text="Milvus behind TLS",
            source="test",
            content_hash="abc",
            embedding=[1.0, 0.0, 0.0, 0.0],
        )
        await store.replace_document("doc-1", [chunk])
        hits = await store.search([1.0, 0.0, 0.0, 0.0], limit=1, expression="")
        assert [hit.doc_id for hit in hits] == ["doc-1"]
        assert await store.count_chunks() == 1
        assert await store.content_hash("doc-1") == "abc"
        assert await store.bump_corpus_version() > 0
        assert await store.delete_document("doc-1")
        stored = await documents.get("doc-1")
        assert stored is not None
        assert stored.text == "Milvus behind TLS"
        assert await documents.delete("doc-1")
        await store.ping()
    finally:
        await store.close()


async def test_the_adapter_without_the_fleet_ca_cannot_connect(
    gate_server: GateServer, tmp_path: Path
) -> None:
    # pymilvus shares one channel per address and token, whatever the TLS arguments: another
    # name the certificate carries keeps this client off the verified channel of the test above.
    settings = StoreSettings(
        data_dir=tmp_path / "data",
        milvus_uri=f"https://localhost:{gate_server.port}",
        milvus_token=f"{SERVICE_USER}:{SERVICE_PASSWORD}",
        milvus_timeout_s=3,
    )
    store = MilvusVectorStore(settings, dim=DIM)
    with pytest.raises(VectorStoreUnavailableError):
        await store.ensure_ready()


def test_the_service_user_cannot_manage_users_or_drop_anything(gate_server: GateServer) -> None:
    service = gate_server.client(f"{SERVICE_USER}:{SERVICE_PASSWORD}")
    root = gate_server.client(f"root:{ROOT_PASSWORD}")
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    service.create_collection("victim", schema=schema)
    forbidden = {
        "create a user": lambda: service.create_user("intruder", "intruder-password"),
        "create a role": lambda: service.create_role("intruders"),
        "drop a collection": lambda: service.drop_collection("victim"),
        "create a database": lambda: service.create_database("elsewhere"),
        "drop the database": lambda: service.drop_database("default"),
        "drop an index": lambda: service.drop_index("victim", "v"),
        "release a collection": lambda: service.release_collection("victim"),
    }
    for what, call in forbidden.items():
        # Milvus answers with the gRPC status, which pymilvus raises as it is.
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED, what
    assert service.has_collection("victim")
    root.drop_collection("victim")
    assert not service.has_collection("victim")
