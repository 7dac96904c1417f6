"""The lite-mode gate's decisions (ansible/roles/milvus/files/milvus_gate.py) without a server:
which calls a user may make, as Milvus 2.5's privilege interceptor decides them."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import grpc
import pytest
from pymilvus.grpc_gen import milvus_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ansible/roles/milvus/files"))

import milvus_gate
from milvus_gate import Gate, GateError


def _metadata(token: str) -> list[tuple[str, str]]:
    return [("authorization", base64.b64encode(token.encode()).decode())]


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    gate = Gate.with_root("root-password", tmp_path / "rbac.json")
    gate.create_user("svc", "svc-password")
    gate.create_role("svc_role")
    gate.grant("svc_role", "Search", "default", "chunks", grant=True)
    gate.grant("svc_role", "CreateCollection", "default", "*", grant=True)
    gate.add_user_to_role("svc", "svc_role", add=True)
    return gate


def test_the_privilege_table_is_milvus_protos() -> None:
    assert milvus_gate.REQUIREMENTS["Search"].privilege == "Search"
    assert milvus_gate.REQUIREMENTS["CreateCredential"].privilege == "CreateOwnership"
    assert milvus_gate.REQUIREMENTS["DropDatabase"].privilege == "DropDatabase"
    assert "HasCollection" not in milvus_gate.REQUIREMENTS  # any authenticated user


def test_authentication_takes_milvus_tokens_only(gate: Gate) -> None:
    assert gate.authenticate(_metadata("svc:svc-password")) == "svc"
    for metadata in ([], _metadata("svc:wrong"), _metadata("svc"), [("authorization", "%%")]):
        with pytest.raises(GateError) as raised:
            gate.authenticate(metadata)
        assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_root_starts_with_the_configured_password_not_the_published_one(tmp_path: Path) -> None:
    gate = Gate.with_root("configured-root", tmp_path / "state.json")
    assert gate.verify("root", "configured-root")
    assert not gate.verify("root", milvus_gate.PUBLISHED_ROOT_PASSWORD)
    assert Gate.load(tmp_path / "state.json").verify("root", "configured-root")


def test_grants_are_scoped_to_privilege_database_and_collection(gate: Gate) -> None:
    search = milvus_pb2.SearchRequest(collection_name="chunks")
    gate.authorize("svc", "Search", search, "default")
    gate.authorize("root", "DropDatabase", milvus_pb2.DropDatabaseRequest(), "default")
    gate.authorize("svc", "CreateCollection", milvus_pb2.CreateCollectionRequest(), "default")
    gate.authorize("svc", "HasCollection", milvus_pb2.HasCollectionRequest(), "default")
    denied = [
        ("Search", milvus_pb2.SearchRequest(collection_name="other"), "default"),
        ("Search", search, "elsewhere"),
        ("Insert", milvus_pb2.InsertRequest(collection_name="chunks"), "default"),
        ("DropCollection", milvus_pb2.DropCollectionRequest(collection_name="chunks"), "default"),
        ("CreateCredential", milvus_pb2.CreateCredentialRequest(username="x"), "default"),
    ]
    for method, request, db in denied:
        with pytest.raises(GateError) as raised:
            gate.authorize("svc", method, request, db)
        assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED, method


def test_a_user_may_change_its_own_password_only(gate: Gate) -> None:
    gate.authorize(
        "svc", "UpdateCredential", milvus_pb2.UpdateCredentialRequest(username="svc"), "default"
    )
    with pytest.raises(GateError):
        gate.authorize(
            "svc",
            "UpdateCredential",
            milvus_pb2.UpdateCredentialRequest(username="root"),
            "default",
        )


def test_privilege_groups_hold_milvus_25s_privileges(gate: Gate) -> None:
    gate.grant("svc_role", "CollectionReadOnly", "default", "*", grant=True)
    gate.authorize("svc", "Query", milvus_pb2.QueryRequest(collection_name="any"), "default")
    with pytest.raises(GateError):
        gate.authorize("svc", "Insert", milvus_pb2.InsertRequest(collection_name="any"), "default")


def test_lite_users_come_from_digests_with_known_privileges() -> None:
    digest = milvus_gate.password_digest("root", "pw")
    with pytest.raises(ValueError, match="name root"):
        Gate.from_users_json(json.dumps({"svc": {"sha256": digest}}))
    with pytest.raises(ValueError, match="unknown privileges"):
        Gate.from_users_json(
            json.dumps(
                {
                    "root": {"sha256": digest},
                    "svc": {"sha256": digest, "privileges": ["Everything"]},
                }
            )
        )
    gate = Gate.from_users_json(json.dumps({"root": {"sha256": digest}}))
    assert gate.verify("root", "pw")
