#!/usr/bin/python
"""Ansible module: Milvus's root password, one service user, its role and exactly its privileges.

Runs with the admin venv's interpreter (pymilvus). Idempotent: changes only what differs.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: milvus_rbac
short_description: Set Milvus's root password and a service user with a role of given privileges
description:
  - Connects as root with root_password over TLS. Where root refuses it but accepts Milvus's
    published default (Milvus), changes root's password to root_password.
  - Creates service_user (or re-creates it when it refuses service_password), service_role,
    grants the role each privilege on every collection of db_name (grant_privilege_v2), revokes
    any other grant of the role, and grants the role to the user.
options:
  uri: {type: str, required: true, description: "https://HOST:PORT of Milvus."}
  ca_file: {type: path, required: true, description: CA that verifies the server's certificate.}
  root_password: {type: str, required: true, no_log: true, description: Root's password.}
  service_user: {type: str, required: true, description: The service's user.}
  service_password: {type: str, required: true, no_log: true, description: Its password.}
  service_role: {type: str, required: true, description: Its role.}
  db_name: {type: str, default: default, description: Database of the grants.}
  privileges: {type: list, elements: str, required: true, description: Milvus privilege names.}
  timeout: {type: float, default: 10, description: Seconds per call.}
"""

import traceback  # noqa: E402 - Ansible modules open with their DOCUMENTATION

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

PUBLISHED_ROOT_PASSWORD = "Milvus"  # noqa: S105 - Milvus's documented default, replaced here
ANY = "*"

try:
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    PYMILVUS_ERROR = None
except ImportError:  # pragma: no cover - reported by the module
    PYMILVUS_ERROR = traceback.format_exc()


def _client(params, user, password):
    return MilvusClient(
        uri=params["uri"],
        token=f"{user}:{password}",
        server_pem_path=params["ca_file"],
        timeout=params["timeout"],
    )


def _accepts(params, user, password):
    try:
        client = _client(params, user, password)
    except MilvusException:
        return None
    return client


def run(module):
    params = module.params
    check = module.check_mode
    changes = []

    root = _accepts(params, "root", params["root_password"])
    if root is None:
        root = _accepts(params, "root", PUBLISHED_ROOT_PASSWORD)
        if root is None:
            module.fail_json(
                msg="Milvus refuses root with milvus_root_password and with the published default:"
                " set milvus_root_password to root's current password"
            )
        changes.append("root's password")
        if not check:
            root.update_password("root", PUBLISHED_ROOT_PASSWORD, params["root_password"])
            root.close()
            root = _client(params, "root", params["root_password"])

    user, role = params["service_user"], params["service_role"]
    if user not in root.list_users():
        changes.append(f"user {user}")
        if not check:
            root.create_user(user, params["service_password"])
    else:
        probe = _accepts(params, user, params["service_password"])
        if probe is not None:
            probe.close()
        else:
            # root cannot set another user's password without the old one: a new user instead.
            changes.append(f"password of {user}")
            if not check:
                root.drop_user(user)
                root.create_user(user, params["service_password"])

    if role not in root.list_roles():
        changes.append(f"role {role}")
        if not check:
            root.create_role(role)
        granted = set()
    else:
        granted = {
            (grant["privilege"], grant.get("db_name") or params["db_name"], grant["object_name"])
            for grant in root.describe_role(role)["privileges"]
        }
    wanted = {(privilege, params["db_name"], ANY) for privilege in params["privileges"]}
    for privilege, db_name, collection in sorted(wanted - granted):
        changes.append(f"grant {privilege}")
        if not check:
            root.grant_privilege_v2(role, privilege, collection, db_name=db_name)
    for privilege, db_name, collection in sorted(granted - wanted):
        changes.append(f"revoke {privilege} on {db_name}.{collection}")
        if not check:
            root.revoke_privilege_v2(role, privilege, collection, db_name=db_name)

    roles = root.describe_user(user).get("roles", ()) if user in root.list_users() else ()
    if role not in roles:
        changes.append(f"{user} in {role}")
        if not check:
            root.grant_role(user, role)
    root.close()
    module.exit_json(changed=bool(changes), changes=changes)


def main():
    module = AnsibleModule(
        argument_spec={
            "uri": {"type": "str", "required": True},
            "ca_file": {"type": "path", "required": True},
            "root_password": {"type": "str", "required": True, "no_log": True},
            "service_user": {"type": "str", "required": True},
            "service_password": {"type": "str", "required": True, "no_log": True},
            "service_role": {"type": "str", "required": True},
            "db_name": {"type": "str", "default": "default"},
            "privileges": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "float", "default": 10.0},
        },
        supports_check_mode=True,
    )
    if PYMILVUS_ERROR is not None:
        module.fail_json(msg="pymilvus is missing from the interpreter", exception=PYMILVUS_ERROR)
    try:
        run(module)
    except MilvusException as error:
        module.fail_json(msg=f"Milvus: {error}")


if __name__ == "__main__":
    main()
