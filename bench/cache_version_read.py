"""Cache-hit POST /query with the in-process answer cache: the corpus version read from Milvus on
every lookup (as the in-process cache did) next to the version the follower holds in memory.

One ragfleet app per Milvus (Lite in this process, then the Milvus Lite server that ``ragfleet
serve --workers N`` starts), driven in this process through the ASGI interface (no sockets, no
HTTP client cost), so the difference is the lookup's. The app runs as ``create_app`` builds it;
for the "per lookup" rounds the query service's cache is swapped for one that ignores the version
it is handed and asks the store on every lookup: the in-process cache before the follower. Both
caches are primed once; rounds alternate; medians are printed. Also printed: one
``corpus_version()`` call alone, which the follower makes once per
``RAGFLEET_CACHE_VERSION_CHECK_S`` instead.

    .venv/bin/python bench/cache_version_read.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.app import create_app
from ragfleet.cache.backends import InProcessAnswerCache
from ragfleet.settings import Settings

BODY = {"query": "How does ragfleet cache answers?", "max_results": 5}
DOCS = [
    {"id": "cache.md", "text": "ragfleet caches answers in Redis or in the worker's memory."},
    {"id": "gpu.md", "text": "Inference hosts run TensorRT-LLM on NVIDIA GPUs."},
]


class VersionPerLookup(InProcessAnswerCache):
    """The in-process cache before the follower: every lookup reads the version from the store."""

    async def set_version(self, version: int) -> None:
        """Ignored: lookups ask the store."""


async def hits(client: AsyncTestClient[Any], requests: int) -> list[float]:
    """Seconds per cache-hit request; a miss aborts the benchmark."""
    took: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.post("/query", json=BODY)
        took.append(time.perf_counter() - started)
        if response.status_code != 200 or not response.json()["cached"]:
            raise SystemExit(f"not a cache hit: {response.status_code} {response.text[:200]}")
    return took


async def version_read_us(store: Any, calls: int = 200) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await store.corpus_version()
    return (time.perf_counter() - started) / calls * 1e6


async def bench(label: str, settings: Settings, requests: int, rounds: int) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        ingested = await client.post("/documents", json={"documents": DOCS})
        ingested.raise_for_status()
        queries = client.app.state.services.queries
        followed = queries.cache
        store = queries._store  # the bench's one reach inside: the store the app reads
        per_lookup = VersionPerLookup(
            store.corpus_version,
            ttl_s=settings.cache.cache_ttl_s,
            max_entries=settings.cache.cache_max_entries,
            wait_s=settings.cache.cache_single_flight_wait_s,
        )
        caches = {"version held (follower)": followed, "version read per lookup": per_lookup}
        per_request: dict[str, list[float]] = {name: [] for name in caches}
        for cache in caches.values():  # prime each: one generation, then hits
            queries._cache = cache
            await client.post("/query", json=BODY)
            await hits(client, 20)
        for _ in range(rounds):
            for name, cache in caches.items():
                queries._cache = cache
                per_request[name].append(statistics.median(await hits(client, requests)))
        queries._cache = followed
        read_us = await version_read_us(store)
    print(f"\n{label}: one corpus_version() read {read_us:.0f} µs")
    for name, medians in per_request.items():
        median = statistics.median(medians)
        print(
            f"  {name:26s} median {median * 1e6:6.0f} µs per cache-hit /query "
            f"({1 / median:6.0f} req/s sequential); rounds: "
            + ", ".join(f"{m * 1e6:.0f}" for m in medians)
        )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and cache")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragfleet-bench-") as work:
        base = {"llm_max_tokens": 8, "cache_version_check_s": 1.0, "log_level": "WARNING"}
        embedded = Settings.from_env({}, data_dir=Path(work) / "lite", **base)
        await bench("Milvus Lite in-process", embedded, args.requests, args.rounds)
        sidecar = MilvusLiteServer(Path(work) / "server" / "milvus.db")
        sidecar.start()
        try:
            served = Settings.from_env(
                {}, data_dir=Path(work) / "served", milvus_uri=sidecar.uri, **base
            )
            label = "Milvus Lite server (serve --workers N)"
            await bench(label, served, args.requests, args.rounds)
        finally:
            sidecar.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
