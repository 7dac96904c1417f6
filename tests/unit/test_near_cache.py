"""The near cache serves only what a Redis lookup gave it for the newest corpus version it knows,
and only while the invalidation subscription is confirmed."""

from __future__ import annotations

import time

from ragfleet.cache.near import NearCache


def attached(max_entries: int = 8) -> NearCache:
    near = NearCache(max_entries)
    near.attach()
    return near


def test_it_serves_what_a_lookup_filled_under_that_version() -> None:
    near = attached()
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    assert near.get("fp") == (b"answer", 7)


def test_it_serves_nothing_before_the_subscription_is_confirmed() -> None:
    near = NearCache(8)
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    assert not near.following
    assert near.get("fp") is None


def test_a_newer_version_drops_every_entry() -> None:
    near = attached()
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    near.advance(8)
    assert near.get("fp") is None
    assert near.version == 8


def test_a_lookup_that_returns_an_older_version_is_not_remembered() -> None:
    near = attached()
    near.advance(8)
    near.fill(near.epoch, 7, "fp", b"stale", ttl_s=60)
    assert near.get("fp") is None


def test_a_lookup_in_flight_across_a_resubscription_is_not_remembered() -> None:
    near = attached()
    epoch = near.epoch
    near.detach()
    near.attach()
    near.fill(epoch, 7, "fp", b"answer", ttl_s=60)
    assert near.get("fp") is None


def test_losing_the_subscription_or_a_redis_error_empties_it() -> None:
    near = attached()
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    near.reset()
    assert near.get("fp") is None
    assert len(near) == 0
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    near.detach()
    assert near.get("fp") is None
    assert not near.serving


def test_entries_expire_with_the_ttl_redis_had_left() -> None:
    near = attached()
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=0.01)
    time.sleep(0.02)
    assert near.get("fp") is None


def test_it_keeps_the_most_recently_used_entries() -> None:
    near = attached(max_entries=2)
    for name in ("a", "b"):
        near.fill(near.epoch, 7, name, name.encode(), ttl_s=60)
    near.get("a")
    near.fill(near.epoch, 7, "c", b"c", ttl_s=60)
    assert near.get("b") is None
    assert near.get("a") is not None
    assert near.get("c") is not None


def test_size_zero_switches_it_off() -> None:
    near = NearCache(0)
    near.attach()
    near.fill(near.epoch, 7, "fp", b"answer", ttl_s=60)
    assert not near.enabled
    assert near.get("fp") is None
