"""A deployment's secrets, generated fresh and written as an encrypted Ansible vault.

Every password is random, so no value published anywhere (docs, examples, tests) can end up on a
fleet. The one API key made here is returned to the caller to show once; the vault keeps only its
hash, as ``RAGFLEET_API_KEYS`` does. Encryption is Ansible's own (``ansible.parsing.vault``), so
``ansible-vault edit`` and ``ansible-playbook --vault-password-file`` open the file as usual.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ragfleet.security.api_keys import hash_key, new_key

# Letters and digits only: the values go into Redis URLs, HAProxy's `stats auth` and INI files,
# none of which then needs quoting. 32 of them carry about 190 bits.
_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
# What a vault password file must at least hold; a generated one has PASSWORD_LENGTH characters.
MIN_VAULT_PASSWORD_LENGTH = 16
ADMIN_KEY_NAME = "admin"


class VaultError(RuntimeError):
    """The vault or its password file cannot be written as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class FleetSecrets:
    """The vault's variables and the admin API key, which exists nowhere else."""

    variables: dict[str, Any]
    admin_key: str


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """A password of ``length`` letters and digits from the OS's CSPRNG."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate() -> FleetSecrets:
    """Fresh values for every ``vault_*`` variable the playbooks read."""
    admin_key = new_key()
    variables: dict[str, Any] = {
        "vault_redis_password": random_password(),
        "vault_redis_app_password": random_password(),
        "vault_redis_exporter_password": random_password(),
        "vault_minio_access_key": "ragfleet-" + random_password(12).lower(),
        "vault_minio_secret_key": random_password(),
        "vault_grafana_admin_password": random_password(),
        "vault_gateway_stats_password": random_password(),
        # Milvus's root (the milvus role sets it) and the user the service connects as.
        "vault_milvus_root_password": random_password(),
        "vault_milvus_service_password": random_password(),
        **monitoring_credentials(random_password()),
        "vault_ragfleet_api_keys": [f"{ADMIN_KEY_NAME}:{hash_key(admin_key)}:admin"],
        "vault_hf_token": "",
        "vault_gateway_tls_certificate": "",
        "vault_gateway_tls_private_key": "",
        **fleet_ca(),
    }
    return FleetSecrets(variables=variables, admin_key=admin_key)


def monitoring_credentials(password: str) -> dict[str, str]:
    """The password of Prometheus' and Alertmanager's basic auth and its bcrypt hash.

    Their web config takes only the hash; making it here, once, keeps every converge identical
    (a hash made on each run would carry a new salt and rewrite the file every time).
    """
    try:
        import bcrypt
    except ImportError as exc:
        raise VaultError("hashing needs bcrypt: pip install 'ragfleet[operator]'") from exc
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()
    return {"vault_monitoring_password": password, "vault_monitoring_password_bcrypt": digest}


def fleet_ca(valid_days: int = 3650) -> dict[str, str]:
    """A new certificate authority for TLS between the fleet's hosts, as PEM text.

    The playbook's fleet_tls role issues every host's certificate from it; services verify each
    other against its certificate. Its key lives only in the (encrypted) vault.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise VaultError(
            "making the fleet CA needs cryptography: pip install 'ragfleet[operator]'"
        ) from exc
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ragfleet"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ragfleet fleet CA {now:%Y-%m-%d %H%M%S}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {
        "vault_fleet_ca_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "vault_fleet_ca_private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }


def render(variables: dict[str, Any]) -> str:
    """The vault's plaintext: the variables with a header saying how to change them."""
    header = (
        f"---\n# ragfleet secrets, generated by `ragfleet secrets init` on "
        f"{datetime.now(UTC):%Y-%m-%d}.\n"
        "# Edit with `ansible-vault edit`; add API keys with `ragfleet keys new`; put a Hugging\n"
        "# Face token in vault_hf_token for gated models and a certificate for the gateway here.\n"
    )
    return header + yaml.safe_dump(variables, sort_keys=False, default_flow_style=False)


def read_or_create_password(path: Path) -> str:
    """The vault password in ``path``; a new random one, in a 0600 file, if it does not exist."""
    if path.exists():
        password = path.read_text().strip()
        if len(password) < MIN_VAULT_PASSWORD_LENGTH:
            raise VaultError(
                f"{path} holds a vault password of {len(password)} characters; use at least "
                f"{MIN_VAULT_PASSWORD_LENGTH}, or name a file that does not exist to get one"
            )
        return password
    password = random_password()
    write_private(path, password + "\n")
    return password


def encrypt(plaintext: str, password: str) -> str:
    """``plaintext`` encrypted as ``ansible-vault encrypt`` would (AES256, format 1.1)."""
    try:
        from ansible.parsing.vault import VaultLib, VaultSecret
    except ImportError as exc:
        raise VaultError(
            "writing a vault needs ansible-core: pip install 'ragfleet[operator]'"
        ) from exc
    vault = VaultLib([("default", VaultSecret(password.encode()))])
    return str(vault.encrypt(plaintext).decode())


def write_private(path: Path, content: str) -> None:
    """Write ``content`` to a new file only its owner can read (never a moment wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
