"""Settings: environment parsing, validation messages, and the documented table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ragfleet.settings import ENV_VARIABLES, Settings, SettingsError

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_are_the_embedded_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.server.host == "127.0.0.1"
    assert settings.store.uses_milvus_lite
    assert settings.models.llm_base_url == ""


def test_environment_values_are_converted_to_field_types() -> None:
    settings = Settings.from_env(
        {"RAGFLEET_PORT": "9001", "RAGFLEET_LOG_JSON": "false", "RAGFLEET_LLM_TIMEOUT_S": "2.5"}
    )
    assert settings.server.port == 9001
    assert settings.logging.log_json is False
    assert settings.models.llm_timeout_s == 2.5


def test_overrides_are_named_by_field_and_win_over_the_environment() -> None:
    settings = Settings.from_env({"RAGFLEET_PORT": "9001"}, port=9002, redis_url="redis://r:6379")
    assert settings.server.port == 9002
    assert settings.cache.redis_url == "redis://r:6379"
    with pytest.raises(TypeError, match="no setting named 'cache'"):
        Settings.from_env({}, cache="redis://r:6379")


def test_a_non_numeric_port_names_the_variable_and_the_expected_type() -> None:
    with pytest.raises(
        SettingsError, match=r"RAGFLEET_PORT='eighty' is not valid: expected an integer"
    ):
        Settings.from_env({"RAGFLEET_PORT": "eighty"})


def test_overlap_must_be_less_than_half_the_chunk_size() -> None:
    with pytest.raises(SettingsError, match="RAGFLEET_CHUNK_OVERLAP"):
        Settings.from_env({"RAGFLEET_CHUNK_SIZE": "200", "RAGFLEET_CHUNK_OVERLAP": "150"})


@pytest.mark.parametrize("value", ["1", "65537"])
def test_the_metadata_limit_stays_within_what_milvus_stores(value: str) -> None:
    with pytest.raises(SettingsError, match="RAGFLEET_METADATA_MAX_BYTES must be between 2"):
        Settings.from_env({"RAGFLEET_METADATA_MAX_BYTES": value})


@pytest.mark.parametrize("value", ["0", "-1"])
def test_the_version_check_interval_must_be_positive(value: str) -> None:
    with pytest.raises(SettingsError, match="RAGFLEET_CACHE_VERSION_CHECK_S must be > 0"):
        Settings.from_env({"RAGFLEET_CACHE_VERSION_CHECK_S": value})


def test_llm_base_url_must_be_http() -> None:
    with pytest.raises(SettingsError, match="RAGFLEET_LLM_BASE_URL"):
        Settings.from_env({"RAGFLEET_LLM_BASE_URL": "trtllm:8001"})


def test_milvus_uri_switches_off_milvus_lite() -> None:
    settings = Settings.from_env({"RAGFLEET_MILVUS_URI": "http://10.0.0.5:19530"})
    assert not settings.store.uses_milvus_lite


def documented_groups() -> dict[str, str | None]:
    """Each variable in the configuration tables, with the group its section heading names."""
    groups: dict[str, str | None] = {}
    group = None
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            heading = re.search(r"\(`settings\.(\w+)`\)$", line)
            group = heading.group(1) if heading else None
        elif row := re.match(r"\| `(RAGFLEET_[A-Z0-9_]+)` \|", line):
            groups[row.group(1)] = group
    return groups


def test_every_setting_is_documented_under_its_group_and_nothing_else() -> None:
    assert documented_groups() == {name: var.group for name, var in ENV_VARIABLES.items()}


def test_documented_defaults_match_the_code() -> None:
    rows = re.findall(r"^\| `(RAGFLEET_[A-Z0-9_]+)` \| (.+?) \|", DOC.read_text(), re.MULTILINE)
    defaults = Settings()
    for name, cell in rows:
        variable = ENV_VARIABLES[name]
        value = getattr(getattr(defaults, variable.group), variable.field)
        expected = (
            "*(empty)*"
            if value == ""
            else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        )
        assert cell == expected, name


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.1.5", "::", "api.internal"])
def test_a_non_loopback_host_without_api_keys_is_refused(host: str) -> None:
    with pytest.raises(SettingsError, match="RAGFLEET_API_KEYS"):
        Settings.from_env({"RAGFLEET_HOST": host})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost"])
def test_a_loopback_host_may_run_without_api_keys(host: str) -> None:
    assert Settings.from_env({"RAGFLEET_HOST": host}).security.api_keys == ""


def test_keys_or_an_explicit_auth_off_allow_a_non_loopback_host() -> None:
    entry = "web:" + "a" * 64 + ":query"
    keyed = Settings.from_env({"RAGFLEET_HOST": "0.0.0.0", "RAGFLEET_API_KEYS": entry})
    assert keyed.security.api_keys
    unkeyed = Settings.from_env({"RAGFLEET_HOST": "0.0.0.0", "RAGFLEET_AUTH": "off"})
    assert unkeyed.security.auth == "off"


def test_auth_off_together_with_keys_is_refused() -> None:
    entry = "web:" + "a" * 64 + ":query"
    with pytest.raises(SettingsError, match="RAGFLEET_AUTH=off contradicts"):
        Settings.from_env({"RAGFLEET_AUTH": "off", "RAGFLEET_API_KEYS": entry})


def test_serve_on_a_public_address_without_keys_exits_before_binding() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGFLEET_")}
    result = subprocess.run(
        [sys.executable, "-m", "ragfleet.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "RAGFLEET_API_KEYS" in result.stderr


def test_a_certificate_needs_its_key_and_both_must_exist(tmp_path: Path) -> None:
    cert = tmp_path / "host.pem"
    cert.write_text("not checked here")
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"RAGFLEET_TLS_CERT_FILE": str(cert)})
    with pytest.raises(SettingsError, match=r"RAGFLEET_TLS_KEY_FILE=.* is not a readable file"):
        Settings.from_env(
            {"RAGFLEET_TLS_CERT_FILE": str(cert), "RAGFLEET_TLS_KEY_FILE": str(tmp_path / "no")}
        )
    with pytest.raises(SettingsError, match="RAGFLEET_TLS_CA_FILE"):
        Settings.from_env({"RAGFLEET_TLS_CA_FILE": str(tmp_path / "missing.pem")})
