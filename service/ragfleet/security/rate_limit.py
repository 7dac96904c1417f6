"""Per-key rate limiting with Litestar's RateLimitConfig, shared across workers through Redis.

Callers are identified by their API key's name, or by their address when authentication is off
(behind the gateway, the address uvicorn takes from ``X-Forwarded-For`` of a trusted proxy).
Like the answer cache, the limiter fails open: while Redis is unreachable each worker counts in
its own memory instead of failing requests.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from loguru import logger

from ragfleet.observability.metrics import CACHE_ERRORS
from ragfleet.security.api_keys import ApiKey
from ragfleet.security.auth import OPEN_PATHS
from ragfleet.settings import Settings

STORE_NAME = "rate_limit"


def caller_identity(request: Request[Any, Any, Any]) -> str:
    """The API key's name when authenticated, else the client address."""
    user = request.scope.get("user")
    if isinstance(user, ApiKey):
        return f"key:{user.name}"
    client = request.scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class FailOpenStore(Store):
    """A store that uses ``primary`` (Redis) and falls back to ``fallback`` when it fails."""

    def __init__(self, primary: Store, fallback: Store, retry_after_s: float) -> None:
        self._primary = primary
        self._fallback = fallback
        self._retry_after_s = retry_after_s
        self._failed_at = -1e9

    async def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() - self._failed_at >= self._retry_after_s:
            try:
                return await getattr(self._primary, name)(*args, **kwargs)
            except Exception as exc:  # Redis down or slow: count in memory meanwhile
                CACHE_ERRORS.labels(operation="rate_limit").inc()
                logger.warning("rate-limit store down ({!r}); counting per worker", exc)
                self._failed_at = time.monotonic()
        return await getattr(self._fallback, name)(*args, **kwargs)

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self._run("set", key, value, expires_in=expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        result: bytes | None = await self._run("get", key, renew_for=renew_for)
        return result

    async def delete(self, key: str) -> None:
        await self._run("delete", key)

    async def delete_all(self) -> None:
        await self._run("delete_all")

    async def exists(self, key: str) -> bool:
        return bool(await self._run("exists", key))

    async def expires_in(self, key: str) -> int | None:
        result: int | None = await self._run("expires_in", key)
        return result


def build_rate_limit(settings: Settings) -> tuple[RateLimitConfig, Store] | None:
    """The middleware config and its store, or None when rate limiting is off."""
    limit, cache = settings.security.rate_limit_per_minute, settings.cache
    if limit <= 0:
        return None
    store: Store = MemoryStore()
    if cache.redis_url:
        import redis.asyncio as aioredis
        from litestar.stores.redis import RedisStore

        from ragfleet.cache.backends import redis_tls_options

        client = aioredis.Redis.from_url(
            cache.redis_url,
            **redis_tls_options(cache.redis_url, settings.security.tls_ca_file),
            socket_timeout=cache.cache_timeout_s,
            socket_connect_timeout=cache.cache_timeout_s,
        )
        primary = RedisStore(client, namespace="ragfleet-rate-limit", handle_client_shutdown=True)
        store = FailOpenStore(primary, MemoryStore(), cache.cache_retry_after_error_s)
    config = RateLimitConfig(
        rate_limit=("minute", limit),
        identifier_for_request=caller_identity,
        exclude=[f"^{path}" for path in OPEN_PATHS],
        store=STORE_NAME,
    )
    return config, store
