"""API keys, stored only as sha256 hashes, each with a name and scopes.

``RAGFLEET_API_KEYS`` holds comma-separated ``name:sha256hex:scope+scope`` entries. The key itself
is shown once by ``ragfleet keys new`` and never stored: a leaked settings file or Ansible vault
reveals no usable key. Keys are random 256-bit tokens, so an unsalted fast hash is enough (there
is nothing to brute-force as there would be with passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SCOPES = frozenset({"query", "ingest", "admin"})
KEY_PREFIX = "rf_"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyConfigError(ValueError):
    """``RAGFLEET_API_KEYS`` is malformed; the message says which entry and why."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A configured key: its owner's name, the hash of the secret, and what it may do."""

    name: str
    digest: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """``admin`` may do everything; other scopes only themselves."""
        return scope in self.scopes or "admin" in self.scopes


def hash_key(secret: str) -> str:
    """The hex sha256 of a key as stored in settings."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (``rf_`` + 43 url-safe characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_api_keys(value: str) -> list[ApiKey]:
    """Parse ``RAGFLEET_API_KEYS``; raises :class:`ApiKeyConfigError` naming the bad entry."""
    keys: list[ApiKey] = []
    names: set[str] = set()
    for position, entry in enumerate(filter(None, (e.strip() for e in value.split(","))), 1):
        parts = entry.split(":")
        if len(parts) != 3:
            raise ApiKeyConfigError(
                f"RAGFLEET_API_KEYS entry {position}: expected name:sha256hex:scopes"
            )
        name, digest, scope_text = parts
        scopes = frozenset(s for s in scope_text.split("+") if s)
        if not _NAME.match(name):
            raise ApiKeyConfigError(f"RAGFLEET_API_KEYS entry {position}: bad name {name!r}")
        if name in names:
            raise ApiKeyConfigError(f"RAGFLEET_API_KEYS: name {name!r} appears twice")
        if not _HEX.match(digest):
            raise ApiKeyConfigError(
                f"RAGFLEET_API_KEYS entry {position} ({name}): the hash must be 64 lowercase hex"
                " characters (sha256 of the key), never the key itself"
            )
        if not scopes or not scopes <= SCOPES:
            raise ApiKeyConfigError(
                f"RAGFLEET_API_KEYS entry {position} ({name}): scopes must be among "
                f"{', '.join(sorted(SCOPES))}"
            )
        names.add(name)
        keys.append(ApiKey(name, digest, scopes))
    return keys


class KeyRing:
    """Finds the configured key matching a presented secret, comparing in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    @property
    def enabled(self) -> bool:
        """Authentication is on when at least one key is configured."""
        return bool(self._keys)

    def match(self, secret: str) -> ApiKey | None:
        """The key whose hash matches ``secret``, or None."""
        digest = hash_key(secret)
        found = None
        for key in self._keys:  # no early exit: timing does not reveal which entry matched
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found
