"""The near cache: a bounded LRU of Redis answers in one worker's memory, for one corpus version.

It serves a hit without a Redis round trip, so it must learn of every corpus change that Redis
knows of. Redis publishes each new version on a channel (see :mod:`ragfleet.cache.backends`); the
worker's subscription calls :meth:`NearCache.advance`, which drops every entry. The near cache only
serves while that subscription is confirmed (:meth:`attach`); when the subscription is lost
(:meth:`detach`) or any Redis call fails (:meth:`reset`), it empties itself and every lookup goes
to Redis until the subscription is back.

Entries are only filled from Redis lookups, under the version Redis returned with them, and only if
no subscription change happened while the lookup was in flight (the ``epoch`` taken before it). A
version older than one already seen is never filled: versions only move forward.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class NearCache:
    """Answers of the current corpus version by fingerprint, with the expiry Redis gave them."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._version: int | None = None
        self._live = False
        self.epoch = 0

    @property
    def enabled(self) -> bool:
        """False when sized 0: every lookup goes to Redis."""
        return self._max_entries > 0

    @property
    def following(self) -> bool:
        """True while the invalidation subscription is confirmed."""
        return self._live

    @property
    def serving(self) -> bool:
        """True while the invalidation subscription is confirmed and a version is known."""
        return self._live and self._version is not None

    @property
    def version(self) -> int | None:
        """The corpus version the entries belong to (None until a Redis lookup told it)."""
        return self._version

    def get(self, fingerprint: str) -> tuple[bytes, int] | None:
        """The value and its version, or None (a miss, an expired entry, or not serving)."""
        if not self._live or self._version is None:
            return None
        entry = self._entries.get(fingerprint)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[fingerprint]
            return None
        self._entries.move_to_end(fingerprint)
        return entry[1], self._version

    def fill(self, epoch: int, version: int, fingerprint: str, value: bytes, ttl_s: float) -> None:
        """Remember what a Redis lookup returned, if it is still known to be current."""
        if not self.enabled or not self._live or epoch != self.epoch or ttl_s <= 0:
            return
        if self._version is None or version > self._version:
            self.advance(version)
        if version != self._version:
            return  # the corpus moved on while the lookup was in flight
        self._entries[fingerprint] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(fingerprint)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def advance(self, version: int) -> None:
        """A newer corpus version exists: every entry is stale."""
        if self._version is None or version > self._version:
            self._version = version
            self._entries.clear()

    def attach(self) -> None:
        """The subscription is (re)confirmed: start empty, learn the version from Redis."""
        self._start_over(live=True)

    def detach(self) -> None:
        """The subscription is lost: serve nothing until it is back."""
        self._start_over(live=False)

    def reset(self) -> None:
        """A Redis call failed: forget everything, keep following the subscription."""
        self._start_over(live=self._live)

    def _start_over(self, *, live: bool) -> None:
        self._entries.clear()
        self._version = None
        self._live = live
        self.epoch += 1

    def __len__(self) -> int:
        return len(self._entries)
