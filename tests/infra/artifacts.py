"""Readers shared by the tests/infra modules: the manifest site.yml leaves on every host, the
roles' defaults on the controller (pinned versions and images), deb822 apt sources and systemd
units as the roles write them."""

import base64
import functools
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES_DIR = REPO / "ansible" / "roles"

# Written by site.yml's first play: the profile, gpu, install, check_hardware, data_dir and
# the host's groups. RAGFLEET_HARDWARE_MANIFEST names another file on the host (tests use it).
MANIFEST = "/var/lib/ragfleet/hardware-profile.json"
MANIFEST_ENV = "RAGFLEET_HARDWARE_MANIFEST"

WILDCARDS = {"0.0.0.0", "::", "[::]", "*", ""}
# What every unit whose process is only a docker client carries (tensorrt-llm, milvus, dcgm).
DOCKER_CLIENT_HARDENING = (
    "NoNewPrivileges=true",
    "ProtectSystem=strict",
    "ProtectHome=true",
    "PrivateTmp=true",
    "ProtectKernelTunables=true",
    "ProtectKernelModules=true",
    "ProtectControlGroups=true",
    "RestrictAddressFamilies=AF_UNIX",
    "RestrictSUIDSGID=true",
    "LockPersonality=true",
    "CapabilityBoundingSet=",
)


def manifest_path() -> str:
    return os.environ.get(MANIFEST_ENV, MANIFEST)


def read_manifest(host: Any) -> dict[str, Any]:
    path = manifest_path()
    f = host.file(path)
    assert f.exists, f"{path} is missing: converge the host with ansible/site.yml first"
    data: dict[str, Any] = json.loads(f.content_string)
    return data


def role_defaults(role: str) -> dict[str, Any]:
    """The role's defaults/main.yml as written (templated values stay strings)."""
    data: dict[str, Any] = yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text())
    return data


def deb822(text: str) -> dict[str, str]:
    """The one stanza of a deb822 .sources file, comments dropped."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        assert sep, f"not a deb822 field: {line!r}"
        fields[key.strip()] = value.strip()
    return fields


def unit_lines(text: str) -> list[str]:
    """A unit file's lines with backslash continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] not in "#;"]


def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit_lines(text) if line.startswith(f"{key}=")]


def missing_lines(text: str, expected: tuple[str, ...]) -> list[str]:
    lines = set(unit_lines(text))
    return [line for line in expected if line not in lines]


def exec_start(text: str) -> list[str]:
    values = unit_values(text, "ExecStart")
    assert len(values) == 1, f"expected one ExecStart, got {values}"
    return shlex.split(values[0])


def option_values(argv: list[str], option: str) -> list[str]:
    """Values of ``--option VALUE`` and ``--option=VALUE`` in an argument vector."""
    values = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def option_value(argv: list[str], option: str) -> str:
    values = option_values(argv, option)
    assert len(values) == 1, f"expected {option} once in the command, got {values}"
    return values[0]


def published_addresses(argv: list[str]) -> dict[str, set[str]]:
    """Host addresses per published host port, from docker run's ``--publish ADDR:HOST:CONT``."""
    ports: dict[str, set[str]] = {}
    for spec in option_values(argv, "--publish") + option_values(argv, "-p"):
        parts = spec.split(":")
        assert len(parts) >= 3, f"--publish {spec} does not name a host address"
        address, host_port = ":".join(parts[:-2]), parts[-2]
        ports.setdefault(host_port, set()).add(address)
    return ports


# An image reference as the roles pin it: NAME:TAG, or NAME:TAG@sha256:DIGEST where the digest was
# checked (docs/versions.md, "Supply chain pins"); Docker pulls and runs the digest, the tag is for
# people. The roles' preflights accept the same two forms.
IMAGE_REFERENCE = re.compile(
    r"^(?P<name>[^@ ]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def image_tag(image: str) -> str:
    """The tag of NAME:TAG or NAME:TAG@sha256:DIGEST; empty when the reference has none."""
    match = IMAGE_REFERENCE.match(image)
    return match["tag"] if match else ""


def image_digest(image: str) -> str:
    """The sha256:... digest of NAME:TAG@sha256:DIGEST; empty for a tag-only reference."""
    match = IMAGE_REFERENCE.match(image)
    return (match["digest"] or "") if match else ""


def is_pinned(image: str) -> bool:
    return image_tag(image) not in {"", "latest"}


# Where no registry is reachable (Molecule), a unit runs a locally built stand-in of its pinned
# image (tests/standins/): same tag, this repository name, and a label saying what it stands for.
STANDIN_REPOSITORY = "ragfleet-standin/"


def unit_image(host: Any, argv: list[str], pinned: str) -> str:
    """The image a container unit runs: the pinned one, or its labelled stand-in (same tag; a
    stand-in is built locally, so it carries no digest)."""
    if pinned in argv:
        return pinned
    tag = image_tag(pinned)
    for token in argv:
        if token.startswith(STANDIN_REPOSITORY) and token.endswith(f":{tag}"):
            label = host.check_output(
                "docker image inspect --format %s %s",
                '{{ index .Config.Labels "org.ragfleet.standin" }}',
                token,
            )
            assert label, f"{token} is named like a stand-in but is not labelled as one"
            return str(token)
    raise AssertionError(f"the unit runs neither {pinned} nor a stand-in tagged {tag}: {argv}")


def runs_trtllm_serve(manifest: dict[str, Any]) -> bool:
    """A GPU inference host the roles installed: its service generates through trtllm-serve."""
    gpu_inference = "gpu_inference" in manifest["groups"]
    return bool(manifest["gpu"] and manifest["install"] and gpu_inference)


def trtllm_completions_since(host: Any, since: str) -> int:
    """Completion requests trtllm-serve answered since a `date +%s` of the host, from the access
    lines in its container's journal (docker's journald log driver)."""
    journal = host.check_output(
        f"journalctl --no-pager --output cat CONTAINER_NAME=tensorrt-llm --since @{since}"
    )
    return len(re.findall(r'"POST /v1/(?:chat/)?completions HTTP/1\.[01]" 200', journal))


def package_version(host: Any, name: str) -> str | None:
    result = host.run(f"dpkg-query -W -f='${{Status}} ${{Version}}' {shlex.quote(name)}")
    if result.rc != 0 or not result.stdout.startswith("install ok installed"):
        return None
    version: str = result.stdout.rsplit(" ", 1)[1]
    return version


def is_held(host: Any, name: str) -> bool:
    return name in host.check_output("apt-mark showhold").split()


def apt_source_problems(host: Any, path: str, keyring: str) -> list[str]:
    """What is wrong with a role's deb822 source: its key, its trust, its enabled state."""
    f = host.file(path)
    if not f.exists:
        return [f"{path} is missing"]
    problems = []
    if (f.user, f.group, f.mode) != ("root", "root", 0o644):
        problems.append(f"{path} is {f.user}:{f.group} {f.mode:o}, expected root:root 644")
    fields = deb822(f.content_string)
    if fields.get("Signed-By") != keyring:
        problems.append(f"{path} Signed-By {fields.get('Signed-By')!r}, expected {keyring}")
    uris = fields.get("URIs", "").split()
    if not uris or not all(uri.startswith("https://") for uri in uris):
        problems.append(f"{path} URIs {uris} are not all https")
    if fields.get("Types") != "deb":
        problems.append(f"{path} Types {fields.get('Types')!r}, expected deb")
    directory = host.file(str(Path(keyring).parent))
    if (directory.user, directory.group, directory.mode) != ("root", "root", 0o755):
        problems.append(f"{directory.path} is not root:root 755")
    key = host.file(keyring)
    enabled = fields.get("Enabled", "yes") == "yes"
    if enabled and not key.exists:
        problems.append(f"{path} is enabled without its key {keyring}: apt update would fail")
    if not enabled and key.exists:
        problems.append(f"{path} is disabled although its key {keyring} was fetched")
    if key.exists and (key.user, key.mode & 0o022) != ("root", 0):
        problems.append(f"{keyring} is writable by others than root")
    return problems


# The fleet CA every host trusts for TLS between hosts (the fleet_tls role installs it).
FLEET_CA = "/etc/ssl/ragfleet/ca.pem"


def service_url(host: Any) -> str:
    """The ragfleet service on its host's private address: HTTPS under the fleet's certificate."""
    return f"https://{read_manifest(host)['address']}:8000"


# The next three read the host once per test run: the alert test polls them for minutes, and what
# they read (the manifest, prometheus.yml) does not change while it does.
@functools.cache
def prometheus_url(host: Any) -> str:
    """Prometheus on the monitoring host's private address, the only one it listens on: HTTPS
    under the host's fleet certificate (verify with FLEET_CA)."""
    return f"https://{read_manifest(host)['address']}:9090"


@functools.cache
def alertmanager_url(host: Any) -> str:
    """Alertmanager on the monitoring host's private address, the only one it listens on: HTTPS
    under the host's fleet certificate (verify with FLEET_CA)."""
    return f"https://{read_manifest(host)['address']}:9093"


@functools.cache
def monitoring_auth(host: Any) -> dict[str, str]:
    """The Authorization header Prometheus itself sends to Alertmanager (read from the host's
    prometheus.yml): Prometheus and Alertmanager answer nothing without it."""
    config = yaml.safe_load(host.file("/etc/prometheus/prometheus.yml").content_string)
    auth = config["alerting"]["alertmanagers"][0]["basic_auth"]
    token = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# Ports a wildcard bind is meant for: the gateway's HTTPS and SSH. Everything else listens on
# loopback or the private address.
WILDCARD_ALLOWED_PORTS = frozenset({22, 443})


def wildcard_listeners(host: Any) -> list[str]:
    """TCP sockets listening on every address (0.0.0.0, ::) on a port not meant for that."""
    found = []
    for socket in host.socket.get_listening_sockets():
        if not socket.startswith("tcp://"):
            continue
        address, _, port = socket[len("tcp://") :].rpartition(":")
        if address in {"0.0.0.0", "::", "*"} and int(port) not in WILDCARD_ALLOWED_PORTS:
            found.append(socket)
    return found
