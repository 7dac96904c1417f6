"""An OpenAI-compatible chat-completions client: the protocol ``trtllm-serve`` speaks on GPU hosts
and the embedded llama.cpp server speaks on a laptop.

Transport failures are turned into two errors the API maps to status codes: the server could not be
reached or failed (:class:`LLMUnavailableError`, 503) and the server took too long
(:class:`LLMTimeoutError`, 504).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx

from ragfleet.settings import Settings


class LLMUnavailableError(RuntimeError):
    """The generation server is down, refused, or answered with a server error."""


class LLMTimeoutError(TimeoutError):
    """The generation server did not answer within the configured timeout."""


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

    def __init__(self, settings: Settings, base_url: str) -> None:
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
        body = await self._request("GET", "/v1/models")
        return [str(m["id"]) for m in body.get("data", []) if "id" in m]

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        """One non-streaming chat completion."""
        model = await self.model_id()
        body = await self._request(
            "POST",
            "/v1/chat/completions",
            json={
                "model": model,
                "messages": list(messages),
                "max_tokens": self._settings.llm_max_tokens,
                "temperature": self._settings.llm_temperature,
                "frequency_penalty": self._settings.llm_frequency_penalty,
                "stream": False,
            },
        )
        try:
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            return Completion(
                text=str(choice["message"]["content"] or "").strip(),
                model=str(body.get("model") or model),
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=str(choice.get("finish_reason") or ""),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise LLMUnavailableError(f"malformed completion from the LLM server: {exc}") from exc

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise LLMUnavailableError(f"LLM server unreachable: {exc!r}") from exc
            raise LLMTimeoutError(f"LLM server timed out on {path}") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailableError(f"LLM server unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise LLMUnavailableError(
                f"LLM server answered {response.status_code} on {path}: {response.text[:300]}"
            )
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise LLMUnavailableError(f"LLM server sent non-JSON on {path}") from exc
        return body

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
