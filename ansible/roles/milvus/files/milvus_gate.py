"""Milvus's authentication, authorisation and TLS in front of Milvus Lite's gRPC server.

Milvus Lite 3.2's server (``milvus-lite server``) listens in plaintext and lets any caller do
anything. This module serves the same servicer (``milvus_lite.adapter.grpc.servicer``) the way
Milvus 2.5's proxy does with ``common.security.authorizationEnabled`` and ``tlsMode: 1``:

- TLS with the host's certificate and key (``grpc.ssl_server_credentials``): a plaintext client
  never gets past the handshake.
- every RPC carries ``authorization`` metadata, base64 of ``user:password`` (what pymilvus sends
  for ``token="user:password"``); none or a wrong one is ``UNAUTHENTICATED`` with Milvus's
  messages (internal/proxy/authentication_interceptor.go).
- a request whose message names a privilege (the ``common.privilege_ext_obj`` option of
  milvus.proto, the table Milvus's privilege interceptor reads) is allowed to ``root`` and to a
  user one of whose roles holds that privilege (or a built-in privilege group containing it) on
  the database and collection, else ``PERMISSION_DENIED``; a request without that option (Connect,
  HasCollection...) is allowed to any authenticated user (internal/proxy/privilege_interceptor.go).

``python milvus_gate.py`` is the lite mode's server (the milvus role's milvus-lite.service): users
and their privileges come from ``MILVUS_GATE_USERS`` (JSON: user -> sha256 digest from
:func:`password_digest`, and privileges), which systemd reads from a root-only file. The Milvus
standalone stand-in (tests/standins/milvus.py) imports it for the same checks plus the RBAC RPCs
(:class:`RbacServicer`) the role calls to set root's password and create the service user.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc

ROOT = "root"
# Milvus's root password until it is changed (common.security.defaultRootPassword's default).
PUBLISHED_ROOT_PASSWORD = "Milvus"  # noqa: S105 - the published default, refused by the role
DEFAULT_DB = "default"
ANY = "*"
ADMIN_ROLE = "admin"
PUBLIC_ROLE = "public"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # Milvus Lite's own server uses the same limit

# Milvus 2.5's built-in privilege groups (common.security.rbac.*.privileges defaults,
# milvus.io/docs/v2.5.x configure_common.md).
_COLLECTION_RO = (
    "Query,Search,IndexDetail,GetFlushState,GetLoadState,GetLoadingProgress,HasPartition,"
    "ShowPartitions,DescribeCollection,DescribeAlias,GetStatistics,ListAliases"
)
_COLLECTION_RW = (
    _COLLECTION_RO + ",Load,Release,Insert,Delete,Upsert,Import,Flush,Compaction,LoadBalance,"
    "CreateIndex,DropIndex,CreatePartition,DropPartition"
)
_CLUSTER_RO = (
    "ListDatabases,SelectOwnership,SelectUser,DescribeResourceGroup,ListResourceGroups,"
    "ListPrivilegeGroups"
)
_CLUSTER_RW = _CLUSTER_RO + ",FlushAll,TransferNode,TransferReplica,UpdateResourceGroups"
PRIVILEGE_GROUPS: dict[str, frozenset[str]] = {
    name: frozenset(value.split(","))
    for name, value in {
        "CollectionReadOnly": _COLLECTION_RO,
        "CollectionReadWrite": _COLLECTION_RW,
        "CollectionAdmin": _COLLECTION_RW + ",CreateAlias,DropAlias",
        "DatabaseReadOnly": "ShowCollections,DescribeDatabase",
        "DatabaseReadWrite": "ShowCollections,DescribeDatabase,AlterDatabase",
        "DatabaseAdmin": "ShowCollections,DescribeDatabase,AlterDatabase,CreateCollection,"
        "DropCollection",
        "ClusterReadOnly": _CLUSTER_RO,
        "ClusterReadWrite": _CLUSTER_RW,
        "ClusterAdmin": _CLUSTER_RW + ",BackupRBAC,RestoreRBAC,CreateDatabase,DropDatabase,"
        "CreateOwnership,DropOwnership,ManageOwnership,CreateResourceGroup,DropResourceGroup,"
        "UpdateUser,RenameCollection,CreatePrivilegeGroup,DropPrivilegeGroup,"
        "OperatePrivilegeGroup",
    }.items()
}


class GateError(Exception):
    """A request the gate refuses; ``code`` is the gRPC status it is answered with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Requirement:
    """What milvus.proto's privilege_ext_obj option asks of a request."""

    object_type: str
    privilege: str
    name_index: int
    names_index: int


def _requirements() -> dict[str, Requirement]:
    service = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]
    table: dict[str, Requirement] = {}
    for method in service.methods:
        options = method.input_type.GetOptions()
        if not options.HasExtension(common_pb2.privilege_ext_obj):
            continue
        ext = options.Extensions[common_pb2.privilege_ext_obj]
        table[method.name] = Requirement(
            object_type=common_pb2.ObjectType.Name(ext.object_type),
            privilege=common_pb2.ObjectPrivilege.Name(ext.object_privilege).removeprefix(
                "Privilege"
            ),
            name_index=ext.object_name_index,
            names_index=ext.object_name_indexs,
        )
    return table


REQUIREMENTS = _requirements()
# Every privilege milvus.proto names (grantable even where no RPC of this proto asks for it).
KNOWN_PRIVILEGES = frozenset(
    name.removeprefix("Privilege")
    for name in common_pb2.ObjectPrivilege.keys()  # noqa: SIM118 - an enum wrapper
) | frozenset(PRIVILEGE_GROUPS)


def password_digest(user: str, password: str) -> str:
    """What MILVUS_GATE_USERS holds for a password (the role computes the same in Jinja)."""
    return hashlib.sha256(f"milvus-gate:{user}:{password}".encode()).hexdigest()


@dataclass(frozen=True, order=True)
class Grant:
    privilege: str
    db: str = ANY
    collection: str = ANY


@dataclass
class Gate:
    """Users (password digests), roles and grants; thread-safe, optionally saved to a file."""

    users: dict[str, str] = field(default_factory=dict)
    user_roles: dict[str, set[str]] = field(default_factory=dict)
    roles: dict[str, set[Grant]] = field(default_factory=dict)
    state_file: Path | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def with_root(cls, root_password: str, state_file: Path | None = None) -> Gate:
        """Milvus's first start: root with the configured password, the built-in roles."""
        if state_file is not None and state_file.exists():
            return cls.load(state_file)
        gate = cls(
            users={ROOT: password_digest(ROOT, root_password)},
            roles={ADMIN_ROLE: set(), PUBLIC_ROLE: set()},
            state_file=state_file,
        )
        gate._save()
        return gate

    @classmethod
    def from_users_json(cls, text: str) -> Gate:
        """The lite server's users: {"user": {"sha256": DIGEST, "privileges": [...]}}; each
        non-root user gets a role of its own name holding its privileges on every collection."""
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"MILVUS_GATE_USERS is not JSON: {error}") from None
        if not isinstance(loaded, dict) or ROOT not in loaded:
            raise ValueError("MILVUS_GATE_USERS must map user names to digests and name root")
        gate = cls()
        for user, entry in loaded.items():
            digest = str(entry.get("sha256", ""))
            if len(digest) != 64:
                raise ValueError(f"MILVUS_GATE_USERS: {user} has no sha256 digest")
            gate.users[user] = digest
            privileges = set(entry.get("privileges", []))
            unknown = privileges - KNOWN_PRIVILEGES
            if unknown:
                raise ValueError(f"MILVUS_GATE_USERS: unknown privileges {sorted(unknown)}")
            if user != ROOT:
                gate.roles[user] = {Grant(p) for p in privileges}
                gate.user_roles[user] = {user}
        return gate

    @classmethod
    def load(cls, path: Path) -> Gate:
        data = json.loads(path.read_text())
        return cls(
            users=dict(data["users"]),
            user_roles={u: set(r) for u, r in data["user_roles"].items()},
            roles={r: {Grant(*g) for g in grants} for r, grants in data["roles"].items()},
            state_file=path,
        )

    def _save(self) -> None:
        if self.state_file is None:
            return
        data = {
            "users": self.users,
            "user_roles": {u: sorted(r) for u, r in self.user_roles.items()},
            "roles": {
                r: [list(vars(g).values()) for g in sorted(g)] for r, g in self.roles.items()
            },
        }
        staging = self.state_file.with_suffix(".tmp")
        staging.write_text(json.dumps(data))
        os.chmod(staging, 0o600)
        staging.replace(self.state_file)

    # --- authentication -------------------------------------------------------------------
    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]]) -> str:
        """The user named by the ``authorization`` metadata, or GateError(UNAUTHENTICATED)."""
        token = next((value for key, value in metadata if key.lower() == "authorization"), None)
        if token is None:
            raise GateError(grpc.StatusCode.UNAUTHENTICATED, "missing authorization in header")
        try:
            raw = base64.b64decode(token, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise GateError(grpc.StatusCode.UNAUTHENTICATED, "invalid token format") from None
        user, separator, password = raw.partition(":")
        if not separator or not self.verify(user, password):
            raise GateError(
                grpc.StatusCode.UNAUTHENTICATED,
                "auth check failure, please check username and password are correct",
            )
        return user

    def verify(self, user: str, password: str) -> bool:
        with self._lock:
            stored = self.users.get(user)
        # Compare a digest even for an unknown user, so timing does not tell which users exist.
        expected = stored or password_digest("", "")
        return hmac.compare_digest(password_digest(user, password), expected) and bool(stored)

    # --- authorisation --------------------------------------------------------------------
    def authorize(self, user: str, method: str, request: Any, db: str) -> None:
        """Raise GateError(PERMISSION_DENIED) unless ``user`` may call ``method`` this way."""
        requirement = REQUIREMENTS.get(method)
        if requirement is None or user == ROOT:
            return
        names = _object_names(request, requirement)
        if requirement.object_type == "User" and names == [user]:
            return  # a user may change its own password and read its own roles, as in Milvus
        with self._lock:
            roles = set(self.user_roles.get(user, set())) | {PUBLIC_ROLE}
            if ADMIN_ROLE in roles:
                return
            grants = set().union(*(self.roles.get(role, set()) for role in roles))
        if names and all(self._permits(grants, requirement.privilege, db, n) for n in names):
            return
        raise GateError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{requirement.privilege}: permission deny to {user} in the `{db}` database",
        )

    @staticmethod
    def _permits(grants: set[Grant], privilege: str, db: str, name: str) -> bool:
        for grant in grants:
            if grant.db not in (ANY, db) or grant.collection not in (ANY, name):
                continue
            if grant.privilege in (privilege, "All"):
                return True
            if privilege in PRIVILEGE_GROUPS.get(grant.privilege, frozenset()):
                return True
        return False

    # --- RBAC, as root manages it ---------------------------------------------------------
    def create_user(self, user: str, password: str) -> None:
        with self._lock:
            if user in self.users:
                raise ValueError(f"user {user} already exists")
            _check_password(password)
            self.users[user] = password_digest(user, password)
            self._save()

    def delete_user(self, user: str) -> None:
        with self._lock:
            if user == ROOT:
                raise ValueError("root cannot be deleted")
            self.users.pop(user, None)
            self.user_roles.pop(user, None)
            self._save()

    def update_password(self, user: str, old: str, new: str) -> None:
        """As Milvus without common.security.superUsers: the old password is checked, even for
        root changing another user's (the role re-creates a user instead)."""
        with self._lock:
            if user not in self.users:
                raise ValueError(f"user {user} not found")
            if not self.verify(user, old):
                raise ValueError("old password not correct")
            _check_password(new)
            self.users[user] = password_digest(user, new)
            self._save()

    def create_role(self, role: str) -> None:
        with self._lock:
            if role in self.roles:
                raise ValueError(f"role {role} already exists")
            self.roles[role] = set()
            self._save()

    def grant(self, role: str, privilege: str, db: str, collection: str, *, grant: bool) -> None:
        with self._lock:
            if role not in self.roles:
                raise ValueError(f"role {role} not found")
            if privilege not in KNOWN_PRIVILEGES:
                raise ValueError(f"{privilege} is not a privilege or privilege group")
            entry = Grant(privilege, db or DEFAULT_DB, collection or ANY)
            if grant:
                self.roles[role].add(entry)
            else:
                self.roles[role].discard(entry)
            self._save()

    def add_user_to_role(self, user: str, role: str, *, add: bool) -> None:
        with self._lock:
            if user not in self.users or role not in self.roles:
                raise ValueError(f"user {user} or role {role} not found")
            roles = self.user_roles.setdefault(user, set())
            if add:
                roles.add(role)
            else:
                roles.discard(role)
            self._save()


def _check_password(password: str) -> None:
    # Milvus: 6 to 256 characters (proxy.minPasswordLength / maxPasswordLength defaults).
    if not 6 <= len(password) <= 256:
        raise ValueError("the password must have 6 to 256 characters")


def _object_names(request: Any, requirement: Requirement) -> list[str]:
    def field_value(number: int) -> Any:
        descriptor = request.DESCRIPTOR.fields_by_number.get(number)
        return getattr(request, descriptor.name) if descriptor is not None else None

    if requirement.names_index > 0:
        return [str(name) for name in field_value(requirement.names_index) or []]
    if requirement.name_index > 0:
        return [str(field_value(requirement.name_index) or "")]
    return [ANY]


def _database(request: Any, metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key.lower() == "dbname" and value:
            return value.decode() if isinstance(value, bytes) else value
    return str(getattr(request, "db_name", "") or DEFAULT_DB)


class GateInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Authenticates and authorises every unary RPC before the servicer sees it."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = str(details.method).rsplit("/", 1)[-1]
        if handler.unary_unary is None:  # Milvus's client API is unary; refuse anything else
            return grpc.unary_unary_rpc_method_handler(
                lambda _request, context: context.abort(
                    grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served"
                )
            )
        inner = handler.unary_unary
        gate = self._gate

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            metadata = tuple(context.invocation_metadata())
            try:
                user = gate.authenticate(metadata)
                gate.authorize(user, method, request, _database(request, metadata))
            except GateError as error:
                context.abort(error.code, str(error))
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _status(error: Exception | None = None) -> Any:
    if error is None:
        return common_pb2.Status(error_code=common_pb2.Success, code=0)
    return common_pb2.Status(error_code=common_pb2.UnexpectedError, code=65535, reason=str(error))


def _decoded(value: str) -> str:
    return base64.b64decode(value).decode()


class RbacServicer:
    """The RBAC RPCs the milvus role calls (users, roles, grants), over a :class:`Gate`.

    Mixed into Milvus Lite's servicer by the standalone stand-in; Milvus Lite itself has none.
    """

    gate: Gate

    def CreateCredential(self, request: Any, context: Any) -> Any:
        try:
            self.gate.create_user(request.username, _decoded(request.password))
        except ValueError as error:
            return _status(error)
        return _status()

    def DeleteCredential(self, request: Any, context: Any) -> Any:
        try:
            self.gate.delete_user(request.username)
        except ValueError as error:
            return _status(error)
        return _status()

    def UpdateCredential(self, request: Any, context: Any) -> Any:
        try:
            self.gate.update_password(
                request.username,
                _decoded(request.oldPassword),
                _decoded(request.newPassword),
            )
        except ValueError as error:
            return _status(error)
        return _status()

    def ListCredUsers(self, request: Any, context: Any) -> Any:
        with self.gate._lock:
            names = sorted(self.gate.users)
        return milvus_pb2.ListCredUsersResponse(status=_status(), usernames=names)

    def SelectUser(self, request: Any, context: Any) -> Any:
        with self.gate._lock:
            names = [request.user.name] if request.user.name else sorted(self.gate.users)
            results = [
                milvus_pb2.UserResult(
                    user=milvus_pb2.UserEntity(name=name),
                    roles=[
                        milvus_pb2.RoleEntity(name=role)
                        for role in sorted(self.gate.user_roles.get(name, set()))
                    ]
                    if request.include_role_info
                    else [],
                )
                for name in names
                if name in self.gate.users
            ]
        return milvus_pb2.SelectUserResponse(status=_status(), results=results)

    def CreateRole(self, request: Any, context: Any) -> Any:
        try:
            self.gate.create_role(request.entity.name)
        except ValueError as error:
            return _status(error)
        return _status()

    def SelectRole(self, request: Any, context: Any) -> Any:
        with self.gate._lock:
            names = [request.role.name] if request.role.name else sorted(self.gate.roles)
            results = [
                milvus_pb2.RoleResult(role=milvus_pb2.RoleEntity(name=name))
                for name in names
                if name in self.gate.roles
            ]
        return milvus_pb2.SelectRoleResponse(status=_status(), results=results)

    def SelectGrant(self, request: Any, context: Any) -> Any:
        role = request.entity.role.name
        db = request.entity.db_name
        with self.gate._lock:
            grants = sorted(self.gate.roles.get(role, set()))
        entities = [
            milvus_pb2.GrantEntity(
                role=milvus_pb2.RoleEntity(name=role),
                object=milvus_pb2.ObjectEntity(name="Collection"),
                object_name=grant.collection,
                db_name=grant.db,
                grantor=milvus_pb2.GrantorEntity(
                    user=milvus_pb2.UserEntity(name=ROOT),
                    privilege=milvus_pb2.PrivilegeEntity(name=grant.privilege),
                ),
            )
            for grant in grants
            if not db or grant.db in (db, ANY)
        ]
        return milvus_pb2.SelectGrantResponse(status=_status(), entities=entities)

    def OperatePrivilegeV2(self, request: Any, context: Any) -> Any:
        try:
            self.gate.grant(
                request.role.name,
                request.grantor.privilege.name,
                request.db_name,
                request.collection_name,
                grant=request.type == milvus_pb2.Grant,
            )
        except ValueError as error:
            return _status(error)
        return _status()

    def OperateUserRole(self, request: Any, context: Any) -> Any:
        try:
            self.gate.add_user_to_role(
                request.username, request.role_name, add=request.type == milvus_pb2.AddUserToRole
            )
        except ValueError as error:
            return _status(error)
        return _status()


def build_server(
    servicer: Any,
    max_workers: int,
    gate: Gate | None,
    address: str,
    tls: tuple[bytes, bytes] | None,
) -> tuple[grpc.Server, int]:
    """A gRPC server for ``servicer``, not yet started, and its bound port: the gate in front
    when given, TLS with (certificate chain, key) when given."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[GateInterceptor(gate)] if gate is not None else [],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(servicer, server)
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        chain, key = tls
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, chain)]))
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return server, port


def read_tls(cert_file: str, key_file: str) -> tuple[bytes, bytes]:
    return Path(cert_file).read_bytes(), Path(key_file).read_bytes()


def main(argv: list[str] | None = None) -> None:
    """The lite mode's server: Milvus Lite behind the gate, TLS only."""
    parser = argparse.ArgumentParser(prog="milvus_gate", allow_abbrev=False)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=19530)
    parser.add_argument("--max-workers", type=int, default=10)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-key-file", required=True)
    args = parser.parse_args(argv)

    users = os.environ.get("MILVUS_GATE_USERS", "")
    if not users:
        parser.error("MILVUS_GATE_USERS is not set: the server refuses to run without users")
    try:
        gate = Gate.from_users_json(users)
        tls = read_tls(args.tls_cert_file, args.tls_key_file)
    except (OSError, ValueError) as error:
        parser.error(str(error))

    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from milvus_lite.db import MilvusLite

    db = MilvusLite(args.data_dir)
    server, port = build_server(
        MilvusServicer(db), args.max_workers, gate, f"{args.host}:{args.port}", tls
    )
    server.start()
    print(
        f"milvus_gate: Milvus Lite on {args.host}:{port} (TLS, {len(gate.users)} users, "
        f"data_dir={args.data_dir})",
        flush=True,
    )

    def stop(_signum: int, _frame: object) -> None:
        server.stop(grace=5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.wait_for_termination()
    finally:
        db.close()


if __name__ == "__main__":
    main(sys.argv[1:])
