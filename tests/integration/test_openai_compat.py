"""Any OpenAI client can use ragfleet: the real `openai` SDK, plain and streaming."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from litestar.testing import AsyncTestClient


@pytest.fixture
def sdk(corpus_client: AsyncTestClient[Any]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="unused-when-auth-is-off",
        base_url=f"{str(corpus_client.base_url).rstrip('/')}/v1",
        http_client=corpus_client,
        max_retries=0,
    )


async def test_models_lists_ragfleet(sdk: openai.AsyncOpenAI) -> None:
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["ragfleet"]


async def test_a_chat_completion_is_answered_from_the_corpus(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="ragfleet",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Which variable sets the Milvus server URI?"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    extension = completion.model_extra["ragfleet"] if completion.model_extra else {}
    assert "docs/configuration.md" in extension["sources"]


async def test_a_streamed_chat_completion_arrives_in_chunks(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="ragfleet",
        messages=[{"role": "user", "content": "What does GET /readyz report?"}],
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) >= 3
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_ragfleet_extensions_ride_in_extra_body(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="ragfleet",
        messages=[{"role": "user", "content": "What does ragfleet do?"}],
        extra_body={"context_filter": {"source": "docs/api.md"}, "max_results": 1},
    )
    assert completion.model_extra
    assert completion.model_extra["ragfleet"]["sources"] == ["docs/api.md"]


async def test_a_conversation_without_a_user_message_is_a_400(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        await sdk.chat.completions.create(
            model="ragfleet", messages=[{"role": "system", "content": "hello"}]
        )
    assert isinstance(error.value.body, dict)
    assert "must include a user message" in error.value.body["detail"]


async def test_the_last_user_message_is_answered_even_before_an_assistant_turn(
    sdk: openai.AsyncOpenAI,
) -> None:
    completion = await sdk.chat.completions.create(
        model="ragfleet",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "What does ragfleet do?"}]},
            {"role": "assistant", "content": "ragfleet"},
        ],
        extra_body={"max_results": 1},
    )
    assert completion.model_extra
    assert completion.model_extra["ragfleet"]["sources"]


async def test_a_type_the_schema_does_not_declare_is_a_400(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        await sdk.chat.completions.create(
            model="ragfleet",
            messages=[{"role": "user", "content": "What does ragfleet do?"}],
            extra_body={"max_results": "1"},
        )
    assert isinstance(error.value.body, dict)
    assert error.value.body["detail"] == "max_results: Expected `int`, got `str`"
