"""Calls to Milvus from inside a converged host, with the pymilvus the host already has (the
service's venv, the lite venv or the milvus role's admin venv): one fresh process per call,
since pymilvus reuses a channel to the same address and token whatever its TLS arguments."""

from __future__ import annotations

import json
import shlex
from typing import Any

SERVICE_VENV_PYTHON = "/opt/ragfleet/venv/bin/python"
SERVICE_ENV_FILE = "/etc/ragfleet/ragfleet.env"
PYTHONS = (SERVICE_VENV_PYTHON, "/opt/milvus-admin/bin/python", "/opt/milvus-lite/bin/python")

_PROBE = """
import sys
from pymilvus import MilvusClient
uri, token, ca, action = sys.argv[1:5]
kwargs = {"server_pem_path": ca} if uri.startswith("https") and ca else {}
try:
    client = MilvusClient(uri=uri, token=token, timeout=5, **kwargs)
    if action == "list":
        client.list_collections()
    elif action == "create_user":
        client.create_user("intruder", "intruder-password-1")
    elif action == "drop_database":
        client.drop_database("default")
    print("ok")
except Exception as error:
    code = getattr(error, "code", None)
    code = code() if callable(code) else code
    print(f"refused {type(error).__name__} {code}: {str(error)[:300]}")
"""


def python_with_pymilvus(host: Any) -> str:
    for python in PYTHONS:
        if host.file(python).exists:
            return python
    raise AssertionError(f"no interpreter with pymilvus among {PYTHONS}")


def milvus_call(host: Any, uri: str, token: str, ca: str, action: str = "list") -> str:
    """'ok', or 'refused <exception> <code>: <message>'."""
    python = python_with_pymilvus(host)
    command = " ".join(shlex.quote(a) for a in [python, "-c", _PROBE, uri, token, ca, action])
    return str(host.check_output(command)).strip()


def service_milvus_settings(host: Any) -> dict[str, str]:
    """RAGFLEET_MILVUS_URI, RAGFLEET_MILVUS_TOKEN and RAGFLEET_TLS_CA_FILE of the service's
    environment file (read as root; never printed)."""
    values = {}
    for line in host.file(SERVICE_ENV_FILE).content_string.splitlines():
        name, _, value = line.partition("=")
        if name in {"RAGFLEET_MILVUS_URI", "RAGFLEET_MILVUS_TOKEN", "RAGFLEET_TLS_CA_FILE"}:
            values[name] = json.loads(value)
    return values
