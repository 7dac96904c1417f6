"""Every Prometheus metric the service exports, defined once.

Names follow Prometheus conventions (base units, ``_total`` counters, low-cardinality labels);
alert rules and dashboards in this repository use exactly these names. HTTP request metrics
(``ragfleet_http_requests_total``, ``ragfleet_http_request_duration_seconds``,
``ragfleet_http_requests_in_progress``) come from Litestar's Prometheus plugin.

With several uvicorn workers, ``ragfleet serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (emptied at
start) before the workers import this module, so each worker writes its samples to shared files
and ``/metrics`` on any worker reports the sum. The reference chapter started an HTTP metrics
server in each worker, which clashes on the port and reports one worker at random.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NAMESPACE = "ragfleet"

# Latency buckets from 5 ms (a cache hit) to 2 minutes (a long generation on a busy GPU).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)

STAGE_SECONDS = Histogram(
    "stage_duration_seconds",
    "Time spent in each stage of answering a query (embed, search, generate, total).",
    ["stage"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter(
    "errors_total",
    "Requests that failed, by error type.",
    ["type"],
    namespace=NAMESPACE,
)
CACHE_REQUESTS = Counter(
    "cache_requests_total",
    "Answer cache lookups by result (hit or miss).",
    ["result"],
    namespace=NAMESPACE,
)
CACHE_ERRORS = Counter(
    "cache_errors_total",
    "Answer cache operations that failed; the query was answered without the cache (fail-open).",
    ["operation"],
    namespace=NAMESPACE,
)
CACHE_SINGLE_FLIGHT_WAITS = Counter(
    "cache_single_flight_waits_total",
    "Misses that waited for an identical in-flight generation instead of starting their own.",
    ["outcome"],
    namespace=NAMESPACE,
)
LLM_REQUESTS = Counter(
    "llm_requests_total",
    "Chat-completion calls to the LLM server by outcome (ok, error, timeout, cancelled).",
    ["outcome"],
    namespace=NAMESPACE,
)
LLM_TOKENS = Counter(
    "llm_tokens_total",
    "Tokens reported by the LLM server, by kind (prompt or completion).",
    ["kind"],
    namespace=NAMESPACE,
)
LLM_TIME_TO_FIRST_TOKEN = Histogram(
    "llm_time_to_first_token_seconds",
    "Time from sending a chat completion to receiving its first content token.",
    namespace=NAMESPACE,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
CORPUS_CHUNKS = Gauge(
    "corpus_chunks",
    "Chunks stored in the vector store, as last seen by this service.",
    namespace=NAMESPACE,
    multiprocess_mode="mostrecent",
)
CORPUS_VERSION = Gauge(
    "corpus_version",
    "Corpus version (moves forward on every ingest or delete that changed something).",
    namespace=NAMESPACE,
    multiprocess_mode="max",
)
CORPUS_VERSION_READ_ERRORS = Counter(
    "corpus_version_read_errors_total",
    "Reads of the corpus version by the answer cache's follower that failed; the cache keeps the"
    " last version it read until a read succeeds.",
    namespace=NAMESPACE,
)
BUILD_INFO = Gauge(
    "build_info",
    "Always 1; labels carry the ragfleet version.",
    ["version"],
    namespace=NAMESPACE,
    multiprocess_mode="max",
)
