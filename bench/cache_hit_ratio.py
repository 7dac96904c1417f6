"""Cache-hit requests/s of ragfleet's POST /query next to a bare Litestar JSON endpoint.

Both run under uvicorn with the same worker count on this machine, loaded by wrk with the same
connections and body, in alternating rounds; the script prints each round and the ratio of the
medians (target: >= 0.8). ragfleet runs as deployed: Redis answer cache with each worker's near
cache in front of it, an API key required (every request sends it; the bare endpoint ignores it),
metrics in multiprocess mode, one JSON access-log line per request (to a file), request ids.

wrk repeats one question, so after each worker's first request the headline figure measures
near-cache hits: the cache-hit path in front of Litestar, with no Redis round trip. A second
ragfleet, started with the near cache off (RAGFLEET_CACHE_MAX_ENTRIES=0), gives the figure for
hits that each cost one Redis round trip (as for a question this worker has not answered since the
last corpus change). Everything binds to 127.0.0.1 and is stopped at the end. Needs `wrk` and
`redis-server` (Debian packages).

    .venv/bin/python bench/cache_hit_ratio.py [--duration 10] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from ragfleet.adapters.free_port import free_loopback_port
from ragfleet.security.api_keys import hash_key, new_key

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BODY = {"query": "How does ragfleet cache answers?", "max_results": 5}
KEY = new_key()
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """Run a server in its own process group and kill the whole group afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until_up(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up in {timeout_s:.0f}s")


def wrk(url: str, script: Path, duration: int, connections: int) -> float:
    """Requests per second reported by wrk; non-2xx responses abort the benchmark."""
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout:
        raise SystemExit(f"wrk saw errors against {url}:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{result.stdout}")
    return float(match.group(1))


def start_ragfleet(
    stack: ExitStack, work: Path, redis_url: str, workers: int, *, near_cache: bool
) -> str:
    """``ragfleet serve`` as deployed, over its own data directory; returns its base URL."""
    port = free_loopback_port()
    env = {
        **os.environ,
        "RAGFLEET_DATA_DIR": str(work / "data"),
        "RAGFLEET_REDIS_URL": redis_url,
        "RAGFLEET_LLM_MAX_TOKENS": "16",
        "RAGFLEET_API_KEYS": f"bench:{hash_key(KEY)}:query+ingest",
    }
    if not near_cache:
        env["RAGFLEET_CACHE_MAX_ENTRIES"] = "0"
    work.mkdir(parents=True)
    command = [str(BIN / "ragfleet"), "serve", "--port", str(port), "--workers", str(workers)]
    stack.enter_context(process(command, env, work / "ragfleet.log"))
    return f"http://127.0.0.1:{port}"


def prime(url: str) -> None:
    """Ingest docs/ and ask the benchmark's question until it is a cache hit."""
    wait_until_up(f"{url}/readyz")
    docs = [
        {"id": p.name, "text": p.read_text(), "source": f"docs/{p.name}"}
        for p in sorted((REPO / "docs").glob("*.md"))
    ]
    ingested = httpx.post(f"{url}/documents", json={"documents": docs}, headers=AUTH, timeout=300)
    ingested.raise_for_status()
    first = httpx.post(f"{url}/query", json=BODY, headers=AUTH, timeout=300).json()
    second = httpx.post(f"{url}/query", json=BODY, headers=AUTH, timeout=60).json()
    if not second.get("cached"):
        raise SystemExit(f"the second query to {url} was not a cache hit: {second}")
    print(f"primed {url} ({first['processing_time']:.2f}s uncached)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} is missing: apt-get install {tool.replace('-server', '-server')}"
            )

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ragfleet-bench-")))
        script = work / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(BODY))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
        )
        redis_port, bare_port = free_loopback_port(), free_loopback_port()
        stack.enter_context(
            process(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""],
                dict(os.environ),
                work / "redis.log",
            )
        )
        bare_env = {**os.environ, "PYTHONPATH": str(REPO / "bench")}
        stack.enter_context(
            process(
                [
                    str(BIN / "uvicorn"),
                    "--factory",
                    "bare_app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bare_port),
                    "--workers",
                    str(args.workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                bare_env,
                work / "bare.log",
            )
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        rag = start_ragfleet(stack, work / "near", redis_url, args.workers, near_cache=True)
        redis_only = start_ragfleet(stack, work / "l2", redis_url, args.workers, near_cache=False)
        bare = f"http://127.0.0.1:{bare_port}"
        wait_until_up(f"{bare}/query")
        for url in (rag, redis_only):
            prime(url)

        bare_rps: list[float] = []
        rag_rps: list[float] = []
        l2_rps: list[float] = []
        for round_number in range(1, args.rounds + 1):
            bare_rps.append(wrk(f"{bare}/query", script, args.duration, args.connections))
            rag_rps.append(wrk(f"{rag}/query", script, args.duration, args.connections))
            l2_rps.append(wrk(f"{redis_only}/query", script, args.duration, args.connections))
            print(
                f"round {round_number}: bare Litestar {bare_rps[-1]:8.0f} req/s   "
                f"ragfleet cache hit {rag_rps[-1]:8.0f} req/s "
                f"(ratio {rag_rps[-1] / bare_rps[-1]:.2f})   "
                f"Redis-only hit {l2_rps[-1]:8.0f} req/s (ratio {l2_rps[-1] / bare_rps[-1]:.2f})"
            )
        bare_median = statistics.median(bare_rps)
        rag_median, l2_median = statistics.median(rag_rps), statistics.median(l2_rps)
        print(
            f"\nmedian: bare {bare_median:.0f} req/s, ragfleet cache hit {rag_median:.0f} req/s, "
            f"ratio {rag_median / bare_median:.2f} (target >= 0.80); "
            f"{args.workers} workers, wrk -t2 -c{args.connections} -d{args.duration}s, "
            f"{os.cpu_count()} CPUs shared by servers and wrk\n"
            f"second figure: Redis-only hits (near cache off) {l2_median:.0f} req/s, "
            f"ratio {l2_median / bare_median:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
