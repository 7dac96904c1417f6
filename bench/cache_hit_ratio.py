"""Cache-hit requests/s of ragfleet's POST /query next to a bare Litestar JSON endpoint.

Both run under uvicorn with the same worker count on this machine, loaded by wrk with the same
connections and body, in alternating rounds; the script prints each round and the ratio of the
medians (target: >= 0.8). ragfleet runs as deployed: Redis answer cache, metrics in multiprocess
mode, JSON access log (to a file), request ids. Everything binds to 127.0.0.1 and is stopped at
the end. Needs `wrk` and `redis-server` (Debian packages).

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

from ragfleet.adapters.ports import free_loopback_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BODY = {"query": "How does ragfleet cache answers?", "max_results": 5}


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
        )
        redis_port, rag_port, bare_port = (
            free_loopback_port(),
            free_loopback_port(),
            free_loopback_port(),
        )
        stack.enter_context(
            process(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""],
                dict(os.environ),
                work / "redis.log",
            )
        )
        rag_env = {
            **os.environ,
            "RAGFLEET_DATA_DIR": str(work / "data"),
            "RAGFLEET_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "RAGFLEET_LLM_MAX_TOKENS": "16",
        }
        stack.enter_context(
            process(
                [
                    str(BIN / "ragfleet"),
                    "serve",
                    "--port",
                    str(rag_port),
                    "--workers",
                    str(args.workers),
                ],
                rag_env,
                work / "ragfleet.log",
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
        rag, bare = f"http://127.0.0.1:{rag_port}", f"http://127.0.0.1:{bare_port}"
        wait_until_up(f"{rag}/readyz")
        wait_until_up(f"{bare}/query")
        docs = [
            {"id": p.name, "text": p.read_text(), "source": f"docs/{p.name}"}
            for p in sorted((REPO / "docs").glob("*.md"))
        ]
        httpx.post(f"{rag}/documents", json={"documents": docs}, timeout=300).raise_for_status()
        first = httpx.post(f"{rag}/query", json=BODY, timeout=300).json()
        second = httpx.post(f"{rag}/query", json=BODY, timeout=60).json()
        if not second.get("cached"):
            raise SystemExit(f"the second query was not a cache hit: {second}")
        print(f"primed the cache ({first['processing_time']:.2f}s uncached)")

        bare_rps: list[float] = []
        rag_rps: list[float] = []
        for round_number in range(1, args.rounds + 1):
            bare_rps.append(wrk(f"{bare}/query", script, args.duration, args.connections))
            rag_rps.append(wrk(f"{rag}/query", script, args.duration, args.connections))
            print(
                f"round {round_number}: bare Litestar {bare_rps[-1]:8.0f} req/s   "
                f"ragfleet cache hit {rag_rps[-1]:8.0f} req/s   "
                f"ratio {rag_rps[-1] / bare_rps[-1]:.2f}"
            )
        bare_median, rag_median = statistics.median(bare_rps), statistics.median(rag_rps)
        print(
            f"\nmedian: bare {bare_median:.0f} req/s, ragfleet cache hit {rag_median:.0f} req/s, "
            f"ratio {rag_median / bare_median:.2f} (target >= 0.80); "
            f"{args.workers} workers, wrk -t2 -c{args.connections} -d{args.duration}s, "
            f"{os.cpu_count()} CPUs shared by servers and wrk"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
