"""Stand-in for nvcr.io/nvidia/tensorrt-llm/release:1.2.0's `trtllm-serve serve MODEL ...`.

The command line is the 1.2 line's (tensorrt_llm/commands/serve.py, see docs/versions.md): an
unknown option, backend or value stops it as click would. The --extra_llm_api_options YAML is
checked against the field lists the role pins (llm_args_fields-1.2.0.json): a key the backend's
argument class does not declare stops it as pydantic's extra="forbid" would. MODEL is a local
checkpoint directory (a GGUF inside stands in for the weights) or a Hugging Face id already in
HF_HOME's cache; there is no network. llama.cpp's server (xllamacpp) generates behind the
endpoints trtllm-serve has: /v1/chat/completions, /v1/completions, /v1/models, /health,
/health_generate, /version, JSON /metrics, and Prometheus text at /prometheus/metrics only when
return_perf_metrics is true (iteration gauges only where iteration stats are on).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from standin import exit_on_sigterm, fail, log

NAME = "trtllm-serve"
VERSION = "1.2.0"
SCHEMA = Path(os.environ.get("TRTLLM_STANDIN_SCHEMA", "/opt/ragfleet-standin/llm_args_fields.json"))
BACKEND_ALIASES = {"trt": "tensorrt"}


def parser() -> argparse.ArgumentParser:
    """`trtllm-serve serve`'s options in the 1.2 line, with their aliases."""
    cli = argparse.ArgumentParser(prog="trtllm-serve serve", allow_abbrev=False)
    cli.add_argument("model")
    for option in (
        "--tokenizer",
        "--custom_tokenizer",
        "--revision",
        "--reasoning_parser",
        "--tool_parser",
        "--metadata_server_config_file",
        "--server_role",
        "--otlp_traces_endpoint",
        "--disagg_cluster_uri",
        "--media_io_kwargs",
        "--chat_template",
    ):
        cli.add_argument(option)
    cli.add_argument("--host", default="localhost")
    cli.add_argument("--port", type=int, default=8000)
    cli.add_argument(
        "--backend", default="pytorch", choices=["pytorch", "tensorrt", "_autodeploy", "trt"]
    )
    cli.add_argument("--custom_module_dirs", action="append", default=[])
    cli.add_argument(
        "--log_level",
        default="info",
        choices=["internal_error", "error", "warning", "info", "verbose", "debug", "trace"],
    )
    for option in (
        "--max_beam_width",
        "--max_batch_size",
        "--max_num_tokens",
        "--max_seq_len",
        "--gpus_per_node",
        "--num_postprocess_workers",
    ):
        cli.add_argument(option, type=int)
    for names in (
        ("--tensor_parallel_size", "--tp_size"),
        ("--pipeline_parallel_size", "--pp_size"),
        ("--context_parallel_size", "--cp_size"),
        ("--moe_expert_parallel_size", "--ep_size"),
        ("--moe_cluster_parallel_size", "--cluster_size"),
    ):
        cli.add_argument(*names, type=int, default=None)
    cli.add_argument(
        "--free_gpu_memory_fraction", "--kv_cache_free_gpu_memory_fraction", type=float, default=0.9
    )
    cli.add_argument("--config", "--extra_llm_api_options", dest="extra_llm_api_options")
    for flag in (
        "--trust_remote_code",
        "--fail_fast_on_attention_window_too_large",
        "--enable_chunked_prefill",
    ):
        cli.add_argument(flag, action="store_true")
    return cli


def parse(argv: list[str]) -> argparse.Namespace:
    # `serve` is the default command of trtllm-serve's command group.
    args = parser().parse_args(argv[1:] if argv[:1] == ["serve"] else argv)
    args.backend = BACKEND_ALIASES.get(args.backend, args.backend)
    return args


def option_errors(options: dict[str, Any], backend: str, schema: dict[str, Any]) -> list[str]:
    """What the backend's argument classes would reject in an --extra_llm_api_options file."""
    if backend not in schema["backends"]:
        return [f"backend {backend} has no pinned argument class"]
    fields = set(schema["backends"][backend]["fields"])
    errors = [f"{key}: extra inputs are not permitted" for key in options if key not in fields]
    for key, nested in schema["nested"].items():
        value = options.get(key)
        if key not in options or backend not in nested["backends"]:
            continue
        if not isinstance(value, dict):
            errors.append(f"{key}: must be a mapping")
            continue
        errors += [
            f"{key}.{sub}: extra inputs are not permitted"
            for sub in value
            if sub not in nested["fields"]
        ]
    algo = (options.get("quant_config") or {}).get("quant_algo")
    if algo is not None and algo not in schema["quant_algo"]["values"]:
        errors.append(f"quant_config.quant_algo: {algo} is not a QuantAlgo")
    return errors


def load_options(path: str | None, backend: str) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        options = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        fail(NAME, f"cannot read --extra_llm_api_options {path}: {error}")
    if not isinstance(options, dict):
        fail(NAME, f"{path}: the LLM API options must be a mapping")
    errors = option_errors(options, backend, json.loads(SCHEMA.read_text()))
    if errors:
        fail(
            NAME,
            f"{path}: validation errors for the {backend} backend's LLM args: " + "; ".join(errors),
        )
    return options


def find_weights(model: str) -> Path:
    """A checkpoint directory, or a Hugging Face id already in HF_HOME (no download here)."""
    candidates = [Path(model)]
    if not Path(model).is_absolute():
        hub = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser() / "hub"
        candidates.append(hub / ("models--" + model.replace("/", "--")))
    for directory in candidates:
        found = sorted(directory.rglob("*.gguf")) if directory.is_dir() else []
        if found:
            return found[0]
    fail(NAME, f"{model}: no local checkpoint and no network to download it")
    raise AssertionError


def load_or_build_engine(args: argparse.Namespace, options: dict[str, Any]) -> None:
    """The TensorRT backend's build cache: with enable_build_cache, an engine built once for a
    (version, model, build config) is found again under TLLM_LLMAPI_BUILD_CACHE_ROOT at the next
    start (engine-<md5>/metadata.json + content/), instead of being built again."""
    if args.backend != "tensorrt":
        return
    if not options.get("enable_build_cache"):
        log(NAME, "building the engine (no build cache: every start builds it again)")
        return
    root = Path(os.environ.get("TLLM_LLMAPI_BUILD_CACHE_ROOT", "/tmp/.cache/tensorrt_llm/llmapi"))
    build = [args.model, args.max_batch_size, args.max_seq_len, args.tensor_parallel_size]
    inputs = json.dumps([build, options.get("quant_config")], sort_keys=True)
    record = root / f"engine-{hashlib.md5(f'{VERSION}-{inputs}'.encode()).hexdigest()}"
    if (record / "metadata.json").is_file():
        log(NAME, f"engine loaded from the build cache {record}")
        return
    try:
        (record / "content").mkdir(parents=True, exist_ok=True)
        (record / "content" / "rank0.engine").write_bytes(b"stand-in engine\n")
        metadata = {"version": 0, "kind": "Engine", "datetime": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (record / "metadata.json").write_text(json.dumps(metadata))
    except OSError as error:
        fail(NAME, f"cannot write the build cache {root}: {error}")
    log(NAME, f"engine built and cached in {record}")


class Engine:
    """llama.cpp's server on a loopback port inside the container, plus the request metrics."""

    def __init__(self, weights: Path, model: str, max_seq_len: int | None) -> None:
        import xllamacpp

        self.model = model
        self.port = 18000
        params = xllamacpp.CommonParams()
        params.model.path = str(weights)
        params.model_alias = {model}
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        params.n_ctx = min(max_seq_len or 2048, 2048)
        params.n_parallel = 1
        params.cpuparams.n_threads = 2
        params.cpuparams_batch.n_threads = 2
        params.verbosity = -1
        self._server = xllamacpp.Server(params)
        self.latencies: list[float] = []
        self.waiting = 0
        self.lock = threading.Lock()

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def healthy(self) -> bool:
        try:
            connection = self.connection()
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def generates(self) -> bool:
        body = json.dumps({"model": self.model, "prompt": "ok", "max_tokens": 1}).encode()
        try:
            connection = self.connection()
            connection.request(
                "POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"}
            )
            return connection.getresponse().status == 200
        except OSError:
            return False


def prometheus_text(engine: Engine, iteration_stats: bool) -> bytes:
    """The families the pinned release exports (names in llm_args_fields-1.2.0.json's notes)."""
    labels = f'model_name="{engine.model}",engine_type="trtllm"'
    bounds = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0]
    with engine.lock:
        latencies = list(engine.latencies)
        waiting = engine.waiting
    lines = ["# TYPE trtllm_e2e_request_latency_seconds histogram"]
    for bound in bounds:
        count = sum(1 for value in latencies if value <= bound)
        lines.append(f'trtllm_e2e_request_latency_seconds_bucket{{{labels},le="{bound}"}} {count}')
    lines += [
        f'trtllm_e2e_request_latency_seconds_bucket{{{labels},le="+Inf"}} {len(latencies)}',
        f"trtllm_e2e_request_latency_seconds_sum{{{labels}}} {sum(latencies)}",
        f"trtllm_e2e_request_latency_seconds_count{{{labels}}} {len(latencies)}",
        "# TYPE trtllm_request_success_total counter",
        f"trtllm_request_success_total{{{labels}}} {len(latencies)}",
    ]
    if iteration_stats:
        lines += [
            "# TYPE trtllm_kv_cache_utilization gauge",
            f"trtllm_kv_cache_utilization{{{labels}}} 0.0",
            "# TYPE trtllm_num_requests_waiting gauge",
            f"trtllm_num_requests_waiting{{{labels}}} {waiting}",
        ]
    return ("\n".join(lines) + "\n").encode()


def handler(engine: Engine, options: dict[str, Any], backend: str) -> type[BaseHTTPRequestHandler]:
    perf_metrics = bool(options.get("return_perf_metrics"))
    iteration_stats = backend == "tensorrt" or bool(options.get("enable_iter_perf_stats"))

    class TrtllmHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self.reply(200 if engine.healthy() else 503, b"")
            elif path == "/health_generate":
                self.reply(200 if engine.generates() else 503, b"")
            elif path == "/version":
                self.reply(200, json.dumps({"version": VERSION}).encode())
            elif path == "/metrics":
                self.reply(200, b"[]")
            elif path == "/prometheus/metrics" and perf_metrics:
                self.reply(
                    200, prometheus_text(engine, iteration_stats), "text/plain; version=0.0.4"
                )
            elif path == "/v1/models":
                created = int(time.time())
                models = {
                    "object": "list",
                    "data": [
                        {
                            "id": engine.model,
                            "object": "model",
                            "created": created,
                            "owned_by": "tensorrt_llm",
                        }
                    ],
                }
                self.reply(200, json.dumps(models).encode())
            else:
                self.reply(404, json.dumps({"detail": "Not Found"}).encode())

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/v1/chat/completions", "/v1/completions"):
                self.reply(404, json.dumps({"detail": "Not Found"}).encode())
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            started = time.monotonic()
            with engine.lock:
                engine.waiting += 1
            try:
                upstream = engine.connection()
                upstream.request(
                    "POST", path, body=body, headers={"Content-Type": "application/json"}
                )
                response = upstream.getresponse()
                with engine.lock:
                    engine.waiting -= 1
                self.send_response(response.status)
                self.send_header(
                    "Content-Type", response.getheader("Content-Type", "application/json")
                )
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := response.read1(65536):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                if response.status == 200:
                    with engine.lock:
                        engine.latencies.append(time.monotonic() - started)
            except OSError as error:
                log(NAME, f"generation failed: {error}")
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            # One access line per request, as trtllm-serve's uvicorn writes them: tests read the
            # container's journal to see which server generated an answer.
            log(NAME, f"{self.client_address[0]} - {format % args}")

    return TrtllmHandler


def main(argv: list[str]) -> None:
    args = parse(argv)
    options = load_options(args.extra_llm_api_options, args.backend)
    weights = find_weights(args.model)
    load_or_build_engine(args, options)
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        try:
            Path(hf_home).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            fail(NAME, f"HF_HOME {hf_home} is not writable: {error}")
    engine = Engine(weights, args.model, args.max_seq_len)
    exit_on_sigterm()
    deadline = time.monotonic() + 120
    while not engine.healthy():
        if time.monotonic() > deadline:
            fail(NAME, "the generator did not start within 120 s")
        time.sleep(0.2)
    server = ThreadingHTTPServer((args.host, args.port), handler(engine, options, args.backend))
    server.daemon_threads = True
    log(
        NAME,
        f"serving {args.model} ({args.backend}, tp {args.tensor_parallel_size or 1}) "
        f"on {args.host}:{args.port}",
    )
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
