"""Answer cache backends with single-flight and fail-open behaviour.

- :class:`InProcessAnswerCache` — one worker's memory (LRU + TTL); the embedded default.
- :class:`RedisAnswerCache` — shared by every worker and host.

Both read the corpus version through ``version_source`` when they do not hold it, so an answer
is never served for an older corpus. A Redis that is down or slow never fails a query: the
operation is counted in ``ragfleet_cache_errors_total``, Redis is left alone for
``retry_after_error_s``, and the query is answered without the cache; the next attempt after that
window reconnects by itself.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from ragfleet.observability.metrics import CACHE_ERRORS, CACHE_SINGLE_FLIGHT_WAITS

VersionSource = Callable[[], Awaitable[int]]

_POLL_INTERVAL_S = 0.025


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cache lookup: the stored value (or None) and the corpus version it was looked up at."""

    value: bytes | None
    version: int


@dataclass(slots=True)
class Flight:
    """A miss being resolved: ``value`` is set when another request produced it meanwhile."""

    value: bytes | None = None


class AnswerCache(Protocol):
    """What the query service needs from an answer cache."""

    async def lookup(self, fingerprint: str) -> Lookup: ...
    async def store(self, fingerprint: str, version: int, value: bytes) -> None: ...
    async def set_version(self, version: int) -> None: ...
    def flight(self, fingerprint: str, version: int) -> AbstractAsyncContextManager[Flight]: ...
    async def check(self) -> str: ...
    async def close(self) -> None: ...


class _LocalFlights:
    """In-process single-flight: the first miss of a key generates, the others await its value."""

    def __init__(self) -> None:
        self._waiters: dict[str, asyncio.Future[bytes | None]] = {}

    @asynccontextmanager
    async def flight(self, key: str, wait_s: float) -> AsyncIterator[Flight]:
        existing = self._waiters.get(key)
        if existing is not None:
            try:
                value = await asyncio.wait_for(asyncio.shield(existing), wait_s)
                CACHE_SINGLE_FLIGHT_WAITS.labels(outcome="shared").inc()
            except TimeoutError:
                CACHE_SINGLE_FLIGHT_WAITS.labels(outcome="timeout").inc()
                value = None
            yield Flight(value)
            return
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        flight = Flight()
        try:
            yield flight
        finally:
            del self._waiters[key]
            if not future.done():
                future.set_result(flight.value)

    def publish(self, key: str, value: bytes) -> None:
        """Hand the generated value to the flight of ``key`` (the leader calls this via store)."""
        future = self._waiters.get(key)
        if future is not None and not future.done():
            future.set_result(value)


class InProcessAnswerCache:
    """An LRU dictionary with expiry; good for one worker, invisible to the others."""

    def __init__(
        self, version_source: VersionSource, *, ttl_s: int, max_entries: int, wait_s: float
    ) -> None:
        self._version_source = version_source
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._wait_s = wait_s
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._flights = _LocalFlights()

    async def lookup(self, fingerprint: str) -> Lookup:
        version = await self._version_source()
        key = f"{version}:{fingerprint}"
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return Lookup(None, version)
        self._entries.move_to_end(key)
        return Lookup(entry[1], version)

    async def store(self, fingerprint: str, version: int, value: bytes) -> None:
        key = f"{version}:{fingerprint}"
        self._entries[key] = (time.monotonic() + self._ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        self._flights.publish(key, value)

    async def set_version(self, version: int) -> None:
        """Nothing to do: lookups read the version from the source of truth each time."""

    def flight(self, fingerprint: str, version: int) -> AbstractAsyncContextManager[Flight]:
        return self._flights.flight(f"{version}:{fingerprint}", self._wait_s)

    async def check(self) -> str:
        return "ok"

    async def close(self) -> None:
        self._entries.clear()


# KEYS[1] = version key; ARGV[1] = answer key prefix; ARGV[2] = fingerprint.
_LOOKUP_LUA = """
local version = redis.call('GET', KEYS[1])
if not version then return {false, false} end
return {version, redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])}
"""
# KEYS[1] = version key; ARGV[1] = candidate version. The version only moves forward.
_SET_VERSION_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""
# KEYS[1] = lock key; ARGV[1] = owner token. Delete only a lock we still own.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisAnswerCache:
    """Answers in Redis as JSON with a TTL; the corpus version lives beside them."""

    def __init__(
        self,
        url: str,
        version_source: VersionSource,
        *,
        ttl_s: int,
        timeout_s: float,
        retry_after_error_s: float,
        wait_s: float,
        lock_ttl_s: float,
        prefix: str = "ragfleet:",
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,  # a failed call is handled (fail-open); no PING per call
        )
        self._version_source = version_source
        self._ttl_s = ttl_s
        self._retry_after_error_s = retry_after_error_s
        self._wait_s = wait_s
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        self._version_key = f"{prefix}corpus_version"
        self._answer_prefix = f"{prefix}answer:"
        self._lock_prefix = f"{prefix}lock:"
        self._lookup_script = self._redis.register_script(_LOOKUP_LUA)
        self._set_version_script = self._redis.register_script(_SET_VERSION_LUA)
        self._release_script = self._redis.register_script(_RELEASE_LUA)
        self._failed_at = -1e9
        self._flights = _LocalFlights()

    # --- fail-open plumbing -----------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False for ``retry_after_error_s`` after a failure: Redis is skipped meanwhile."""
        return time.monotonic() - self._failed_at >= self._retry_after_error_s

    def _failed(self, operation: str, exc: BaseException) -> None:
        CACHE_ERRORS.labels(operation=operation).inc()
        if self.available:
            logger.warning(
                "answer cache unavailable ({}: {!r}); answering uncached", operation, exc
            )
        self._failed_at = time.monotonic()

    # --- AnswerCache ------------------------------------------------------------------------
    async def lookup(self, fingerprint: str) -> Lookup:
        if self.available:
            try:
                version, value = await self._lookup_script(
                    keys=[self._version_key], args=[self._answer_prefix, fingerprint]
                )
                if version is not None:
                    return Lookup(value, int(version))
                # Redis lost the version (restart, eviction): seed it from the source of truth.
                current = await self._version_source()
                await self._set_version_script(keys=[self._version_key], args=[current])
                return Lookup(None, current)
            except Exception as exc:  # redis errors, timeouts, OSError: fail open
                self._failed("lookup", exc)
        return Lookup(None, await self._version_source())

    async def store(self, fingerprint: str, version: int, value: bytes) -> None:
        self._flights.publish(f"{version}:{fingerprint}", value)
        if not self.available:
            return
        try:
            await self._redis.set(self._answer_key(version, fingerprint), value, ex=self._ttl_s)
        except Exception as exc:
            self._failed("store", exc)

    async def set_version(self, version: int) -> None:
        if not self.available:
            return
        try:
            await self._set_version_script(keys=[self._version_key], args=[version])
        except Exception as exc:
            self._failed("version", exc)

    @asynccontextmanager
    async def flight(self, fingerprint: str, version: int) -> AsyncIterator[Flight]:
        """Single-flight across workers and hosts: one lock holder generates, others poll."""
        async with self._flights.flight(f"{version}:{fingerprint}", self._wait_s) as local:
            if local.value is not None:
                yield local
                return
            token = await self._acquire_or_wait(fingerprint, version, local)
            try:
                yield local
            finally:
                if token is not None:
                    await self._release(fingerprint, version, token)

    async def _acquire_or_wait(self, fingerprint: str, version: int, flight: Flight) -> str | None:
        """Take the lock (returns its token) or wait until the holder stored the answer."""
        if not self.available:
            return None
        lock_key = self._lock_key(version, fingerprint)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self._wait_s
        waited = False
        try:
            while time.monotonic() < deadline:
                if await self._redis.set(lock_key, token, nx=True, px=self._lock_ttl_ms):
                    return token
                waited = True
                value = await self._redis.get(self._answer_key(version, fingerprint))
                if value is not None:
                    CACHE_SINGLE_FLIGHT_WAITS.labels(outcome="shared").inc()
                    flight.value = value
                    return None
                await asyncio.sleep(_POLL_INTERVAL_S)
        except Exception as exc:
            self._failed("lock", exc)
            return None
        if waited:
            CACHE_SINGLE_FLIGHT_WAITS.labels(outcome="timeout").inc()
        return None

    async def _release(self, fingerprint: str, version: int, token: str) -> None:
        try:
            await self._release_script(keys=[self._lock_key(version, fingerprint)], args=[token])
        except Exception as exc:
            self._failed("unlock", exc)

    async def check(self) -> str:
        """``ok`` when Redis answers a PING, ``degraded`` otherwise (queries still work)."""
        try:
            await self._redis.ping()
        except Exception:
            return "degraded"
        return "ok" if self.available else "degraded"

    async def close(self) -> None:
        await self._redis.aclose()

    def _answer_key(self, version: int, fingerprint: str) -> str:
        return f"{self._answer_prefix}{version}:{fingerprint}"

    def _lock_key(self, version: int, fingerprint: str) -> str:
        return f"{self._lock_prefix}{version}:{fingerprint}"
