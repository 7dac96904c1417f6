"""An OpenAI-compatible chat-completions client: the protocol ``trtllm-serve`` speaks on GPU hosts
and the embedded llama.cpp server speaks on a laptop.

Every completion is streamed from the server, so time to first token is measured for every
request and a cancelled request (a client that went away) closes the connection, which stops the
generation on the server. Transport failures become two errors the API maps to status codes: the
server could not be reached or failed (:class:`LLMUnavailableError`, 503) and the server took too
long (:class:`LLMTimeoutError`, 504).

Hand-written rather than the ``openai`` SDK: reading the same streamed completion, the SDK takes
about four times as long per chunk (pydantic models per chunk; bench/library_choices.py), and
every miss pays it once per token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx

from ragfleet.domain import TokenDelta
from ragfleet.errors import LLMTimeoutError, LLMUnavailableError
from ragfleet.observability.metrics import LLM_REQUESTS, LLM_TIME_TO_FIRST_TOKEN, LLM_TOKENS
from ragfleet.settings import ModelSettings


class ChatMessage(TypedDict):
    """One chat message in OpenAI's format."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished chat completion and what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class OpenAIChatClient:
    """Calls ``/v1/chat/completions`` on one OpenAI-compatible server."""

    def __init__(self, settings: ModelSettings, base_url: str) -> None:
        self._settings = settings
        headers = (
            {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
        )
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s),
        )
        self._model = settings.llm_model

    @property
    def base_url(self) -> str:
        """The server this client talks to."""
        return str(self._http.base_url)

    @property
    def known_model(self) -> str:
        """The model id if already known, without asking the server ('' otherwise)."""
        return self._model

    async def model_id(self) -> str:
        """The configured model, or the first one the server lists."""
        if not self._model:
            models = await self.list_models()
            if not models:
                raise LLMUnavailableError("the LLM server lists no models")
            self._model = models[0]
        return self._model

    async def list_models(self) -> list[str]:
        """Model ids from ``GET /v1/models``; also the readiness probe."""
        try:
            response = await self._http.get("/v1/models")
        except httpx.HTTPError as exc:
            raise _transport_error(exc, "/v1/models") from exc
        _raise_for_status(response, "/v1/models")
        try:
            body = response.json()
        except ValueError as exc:
            raise LLMUnavailableError("LLM server sent non-JSON on /v1/models") from exc
        return [str(m["id"]) for m in body.get("data", []) if "id" in m]

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        """One chat completion, collected from the stream."""
        parts: list[str] = []
        async with contextlib.aclosing(self.stream(messages)) as items:
            async for item in items:
                if isinstance(item, TokenDelta):
                    parts.append(item.text)
                else:
                    return Completion(
                        "".join(parts).strip(),
                        item.model,
                        item.prompt_tokens,
                        item.completion_tokens,
                        item.finish_reason,
                    )
        raise LLMUnavailableError("the LLM stream ended without a result")  # pragma: no cover

    async def stream(
        self, messages: Sequence[ChatMessage]
    ) -> AsyncGenerator[TokenDelta | Completion, None]:
        """Yield text deltas as they arrive, then one :class:`Completion` with the totals."""
        model = await self.model_id()
        payload = {
            "model": model,
            "messages": list(messages),
            "max_tokens": self._settings.llm_max_tokens,
            "temperature": self._settings.llm_temperature,
            "frequency_penalty": self._settings.llm_frequency_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        outcome = "error"
        first_token_seen = False
        parts: list[str] = []
        usage: dict[str, Any] = {}
        finish_reason = ""
        served_model = model
        try:
            async with self._http.stream("POST", "/v1/chat/completions", json=payload) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response, "/v1/chat/completions")
                async for chunk in _sse_json(response):
                    served_model = str(chunk.get("model") or served_model)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        finish_reason = choice.get("finish_reason") or finish_reason
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if not first_token_seen:
                                first_token_seen = True
                                LLM_TIME_TO_FIRST_TOKEN.observe(time.perf_counter() - started)
                            parts.append(text)
                            yield TokenDelta(text)
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            completion_tokens = int(usage.get("completion_tokens", len(parts)))
            LLM_TOKENS.labels(kind="prompt").inc(prompt_tokens)
            LLM_TOKENS.labels(kind="completion").inc(completion_tokens)
            outcome = "ok"
            LLM_REQUESTS.labels(outcome=outcome).inc()  # now: the caller may never resume us
            yield Completion(
                "".join(parts), served_model, prompt_tokens, completion_tokens, finish_reason
            )
        except httpx.HTTPError as exc:
            error = _transport_error(exc, "/v1/chat/completions")
            outcome = "timeout" if isinstance(error, LLMTimeoutError) else "error"
            raise error from exc
        except (GeneratorExit, asyncio.CancelledError):
            if outcome != "ok":  # closed mid-generation: the client went away
                outcome = "cancelled"  # leaving the `async with` closes the stream: LLM stops
            raise
        finally:
            if outcome != "ok":
                LLM_REQUESTS.labels(outcome=outcome).inc()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


async def _sse_json(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of an OpenAI-style server-sent-event stream, up to ``[DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise LLMUnavailableError("LLM server sent a malformed stream event") from exc
        if isinstance(chunk, dict):
            if "error" in chunk:
                raise LLMUnavailableError(f"LLM server error: {str(chunk['error'])[:300]}")
            yield chunk


def _raise_for_status(response: httpx.Response, path: str) -> None:
    if response.status_code >= 400:
        raise LLMUnavailableError(
            f"LLM server answered {response.status_code} on {path}: {response.text[:300]}"
        )


def _transport_error(exc: httpx.HTTPError, path: str) -> Exception:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return LLMTimeoutError(f"LLM server timed out on {path}")
    return LLMUnavailableError(f"LLM server unreachable on {path}: {exc!r}")
