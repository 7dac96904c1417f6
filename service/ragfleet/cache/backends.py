"""Answer cache backends with single-flight and fail-open behaviour.

- :class:`InProcessAnswerCache` — one worker's memory (LRU + TTL); the embedded default.
- :class:`RedisAnswerCache` — shared by every worker and host, with a per-worker near cache
  (:mod:`ragfleet.cache.near`) in front, kept current by a pub/sub channel on the corpus version.

Both key answers on the corpus version. The vector store owns it; in each worker
:mod:`ragfleet.cache.version_follower` hands it to ``set_version`` every
``RAGFLEET_CACHE_VERSION_CHECK_S`` (ingestion does after each change), and a cache never answers
under an older version than the newest it was given. Until it was given one, it reads the version
through ``version_source``. A Redis that is down or slow never fails a query: the operation is
counted in ``ragfleet_cache_errors_total``, Redis is left alone for ``retry_after_error_s``, and
the query is answered without the cache; the next attempt after that window reconnects by itself.
A failure also empties the near cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from ragfleet.cache.near import NearCache
from ragfleet.observability.metrics import CACHE_ERRORS, CACHE_SINGLE_FLIGHT_WAITS

if TYPE_CHECKING:
    from redis.asyncio.lock import Lock

VersionSource = Callable[[], Awaitable[int]]

_POLL_INTERVAL_S = 0.025
# The invalidation subscription pings Redis after this long without a message, and counts as lost
# after twice this long without hearing anything (a connection that died without closing).
_HEARTBEAT_S = 1.0


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

    async def open(self) -> None: ...
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
    """An LRU dictionary with expiry; good for one worker, invisible to the others.

    Lookups use the newest version given to :meth:`set_version`: reading it from the store on
    every lookup would cost a Milvus round trip per hit.
    """

    def __init__(
        self, version_source: VersionSource, *, ttl_s: int, max_entries: int, wait_s: float
    ) -> None:
        self._version_source = version_source
        self._version: int | None = None
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._wait_s = wait_s
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._flights = _LocalFlights()

    async def open(self) -> None:
        """Nothing to start."""

    async def lookup(self, fingerprint: str) -> Lookup:
        version = self._version
        if version is None:
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
        """Answer under ``version`` from now on, unless a newer one was given already."""
        if self._version is None or version > self._version:
            self._version = version

    def flight(self, fingerprint: str, version: int) -> AbstractAsyncContextManager[Flight]:
        return self._flights.flight(f"{version}:{fingerprint}", self._wait_s)

    async def check(self) -> str:
        return "ok"

    async def close(self) -> None:
        self._entries.clear()


# KEYS[1] = version key; ARGV[1] = answer key prefix; ARGV[2] = fingerprint.
# Returns {version, value, milliseconds the value has left}.
_LOOKUP_LUA = """
local version = redis.call('GET', KEYS[1])
if not version then return {false, false, false} end
local key = ARGV[1] .. version .. ':' .. ARGV[2]
local value = redis.call('GET', key)
if not value then return {version, false, false} end
return {version, value, redis.call('PTTL', key)}
"""
# KEYS[1] = version key; ARGV[1] = candidate version; ARGV[2] = channel. The version only moves
# forward, and every move is published so that near caches drop what they hold.
_SET_VERSION_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[1])
  return 1
end
return 0
"""


def redis_tls_options(url: str, ca_file: str) -> dict[str, Any]:
    """Verify a ``rediss://`` server against ``ca_file`` (a fleet's own CA) when one is given.

    Plain ``redis://`` connections take no TLS options: redis-py refuses them there.
    """
    return {"ssl_ca_certs": ca_file} if ca_file and url.startswith("rediss://") else {}


class RedisAnswerCache:
    """Answers in Redis as JSON with a TTL; the corpus version lives beside them.

    A near cache of ``near_max_entries`` answers (0: none) serves repeated hits from this
    worker's memory while the subscription to ``<prefix>corpus_version`` (started by :meth:`open`)
    is confirmed; see :mod:`ragfleet.cache.near` for why it never serves an older corpus version
    than Redis would, beyond the time a published version takes to reach this worker.
    """

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
        near_max_entries: int = 0,
        prefix: str = "ragfleet:",
        tls_ca_file: str = "",
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis: Any = aioredis.Redis.from_url(
            url,
            **redis_tls_options(url, tls_ca_file),
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,  # a failed call is handled (fail-open); no PING per call
        )
        self._version_source = version_source
        self._ttl_s = ttl_s
        self._retry_after_error_s = retry_after_error_s
        self._wait_s = wait_s
        self._lock_ttl_s = lock_ttl_s
        self._version_key = f"{prefix}corpus_version"
        self._version_channel = self._version_key
        self._answer_prefix = f"{prefix}answer:"
        self._lock_prefix = f"{prefix}lock:"
        self._lookup_script = self._redis.register_script(_LOOKUP_LUA)
        self._set_version_script = self._redis.register_script(_SET_VERSION_LUA)
        self._failed_at = -1e9
        # The newest version given to set_version: Redis holding an older one is behind.
        self._known_version: int | None = None
        self._flights = _LocalFlights()
        self._near = NearCache(near_max_entries)
        # Its own client: a subscribed connection takes no commands, and a lost connection must
        # surface at once (no silent reconnect that could miss a published version).
        self._subscriber: Any = aioredis.Redis.from_url(
            url,
            **redis_tls_options(url, tls_ca_file),
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._follower: asyncio.Task[None] | None = None

    # --- fail-open plumbing -----------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False for ``retry_after_error_s`` after a failure: Redis is skipped meanwhile."""
        return time.monotonic() - self._failed_at >= self._retry_after_error_s

    def _failed(self, operation: str, exc: BaseException) -> None:
        CACHE_ERRORS.labels(operation=operation).inc()
        self._near.reset()
        if self.available:
            logger.warning(
                "answer cache unavailable ({}: {!r}); answering uncached", operation, exc
            )
        self._failed_at = time.monotonic()

    # --- near cache invalidation ------------------------------------------------------------
    @property
    def near(self) -> NearCache:
        """This worker's near cache (read-only use: tests and diagnostics)."""
        return self._near

    async def open(self) -> None:
        """Start following the corpus version channel (only with a near cache)."""
        if self._near.enabled and self._follower is None:
            self._follower = asyncio.create_task(self._follow_versions(), name="near-cache")

    async def _follow_versions(self) -> None:
        """Subscribe, apply every published version, and start over when the link is lost."""
        loop = asyncio.get_running_loop()
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self._version_channel)
                heard = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=_HEARTBEAT_S)
                    if message is not None:
                        heard = loop.time()
                        if message["type"] == "subscribe":
                            self._near.attach()
                        elif message["type"] == "message":
                            self._near.advance(int(message["data"]))
                    elif loop.time() - heard > 2 * _HEARTBEAT_S:
                        raise TimeoutError("Redis stopped answering on the version channel")
                    else:
                        await pubsub.ping()
            except Exception as exc:  # connection lost, refused, timed out: serve from Redis
                if self._near.serving:
                    logger.warning("near cache off until Redis is back ({!r})", exc)
                CACHE_ERRORS.labels(operation="subscribe").inc()
            finally:
                self._near.detach()
                with suppress(Exception):  # the connection may be gone already
                    await pubsub.aclose()
            await asyncio.sleep(max(self._retry_after_error_s, _POLL_INTERVAL_S))

    # --- AnswerCache ------------------------------------------------------------------------
    async def lookup(self, fingerprint: str) -> Lookup:
        if self.available:
            near = self._near.get(fingerprint)
            if near is not None:
                return Lookup(*near)
            epoch = self._near.epoch
            try:
                version, value, ttl_ms = await self._lookup_script(
                    keys=[self._version_key], args=[self._answer_prefix, fingerprint]
                )
                known = self._known_version
                if version is not None and (known is None or int(version) >= known):
                    if value is not None:
                        self._near.fill(epoch, int(version), fingerprint, value, ttl_ms / 1000)
                    return Lookup(value, int(version))
                # Redis lost the version (restart, eviction) or holds an older one than this
                # worker was given (restarted from an old snapshot, down when it moved): a miss,
                # and Redis is moved forward.
                current = await self._current_version()
                await self._set_version_script(
                    keys=[self._version_key], args=[current, self._version_channel]
                )
                return Lookup(None, current)
            except Exception as exc:  # redis errors, timeouts, OSError: fail open
                self._failed("lookup", exc)
        return Lookup(None, await self._current_version())

    async def _current_version(self) -> int:
        if self._known_version is not None:
            return self._known_version
        return await self._version_source()

    async def store(self, fingerprint: str, version: int, value: bytes) -> None:
        self._flights.publish(f"{version}:{fingerprint}", value)
        if not self.available:
            return
        try:
            await self._redis.set(self._answer_key(version, fingerprint), value, ex=self._ttl_s)
        except Exception as exc:
            self._failed("store", exc)

    async def set_version(self, version: int) -> None:
        """Move Redis (and every near cache) forward to ``version``; never back."""
        self._near.advance(version)  # this worker's next query already misses
        if self._known_version is None or version > self._known_version:
            self._known_version = version
        if not self.available:
            return
        try:
            await self._set_version_script(
                keys=[self._version_key], args=[version, self._version_channel]
            )
        except Exception as exc:
            self._failed("version", exc)

    @asynccontextmanager
    async def flight(self, fingerprint: str, version: int) -> AsyncIterator[Flight]:
        """Single-flight across workers and hosts: one lock holder generates, others poll."""
        async with self._flights.flight(f"{version}:{fingerprint}", self._wait_s) as local:
            if local.value is not None:
                yield local
                return
            lock = await self._acquire_or_wait(fingerprint, version, local)
            try:
                yield local
            finally:
                if lock is not None:
                    await self._release(lock)

    async def _acquire_or_wait(self, fingerprint: str, version: int, flight: Flight) -> Lock | None:
        """Take the lock or wait until its holder stored the answer.

        redis-py's owner-token lock (SET NX PX, released by a script only while still owned);
        it is not asked to block, since a waiter watches for the answer instead.
        """
        if not self.available:
            return None
        lock: Lock = self._redis.lock(
            self._lock_key(version, fingerprint), timeout=self._lock_ttl_s, blocking=False
        )
        deadline = time.monotonic() + self._wait_s
        waited = False
        try:
            while time.monotonic() < deadline:
                if await lock.acquire():
                    return lock
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

    async def _release(self, lock: Lock) -> None:
        from redis.exceptions import LockError

        try:
            await lock.release()
        except LockError:
            pass  # expired and perhaps taken by another holder: not ours to delete
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
        if self._follower is not None:
            self._follower.cancel()
            with suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self._subscriber.aclose()
        await self._redis.aclose()

    def _answer_key(self, version: int, fingerprint: str) -> str:
        return f"{self._answer_prefix}{version}:{fingerprint}"

    def _lock_key(self, version: int, fingerprint: str) -> str:
        return f"{self._lock_prefix}{version}:{fingerprint}"
