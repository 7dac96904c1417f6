"""API keys: parsed from hashed entries, matched by hash, scoped."""

from __future__ import annotations

import pytest

from ragfleet.security.api_keys import ApiKeyConfigError, KeyRing, hash_key, new_key, parse_api_keys
from ragfleet.settings import Settings, SettingsError


def test_an_entry_parses_into_name_hash_and_scopes() -> None:
    (key,) = parse_api_keys(f"ci:{hash_key('secret')}:query+ingest")
    assert key.name == "ci"
    assert key.scopes == {"query", "ingest"}
    assert key.allows("ingest")
    assert not key.allows("admin")


def test_admin_allows_every_scope() -> None:
    (key,) = parse_api_keys(f"root:{hash_key('s')}:admin")
    assert key.allows("query")
    assert key.allows("ingest")


def test_the_keyring_matches_the_secret_not_the_hash() -> None:
    secret = new_key()
    ring = KeyRing(parse_api_keys(f"a:{hash_key(secret)}:query"))
    assert ring.enabled
    assert ring.match(secret) is not None
    assert ring.match(hash_key(secret)) is None
    assert ring.match("rf_wrong") is None


def test_no_entries_means_authentication_is_off() -> None:
    assert not KeyRing(parse_api_keys("")).enabled


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ci:query", "expected name:sha256hex:scopes"),
        (f"ci:{'A' * 64}:query", "64 lowercase hex"),
        ("ci:rf_plaintextkey:query", "never the key itself"),
        (f"ci:{hash_key('s')}:root", "scopes must be among"),
        (f"bad name:{hash_key('s')}:query", "bad name"),
        (f"a:{hash_key('s')}:query,a:{hash_key('t')}:query", "appears twice"),
    ],
)
def test_malformed_entries_are_refused_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(ApiKeyConfigError, match=message):
        parse_api_keys(value)


def test_cors_wildcard_is_refused() -> None:
    with pytest.raises(SettingsError, match="'\\*' is refused"):
        Settings.from_env({"RAGFLEET_CORS_ALLOW_ORIGINS": "https://a.example, *"})
