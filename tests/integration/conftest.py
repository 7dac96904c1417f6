"""Real servers for integration tests: the llama.cpp generator (once per session) and apps over
fresh Milvus Lite directories. Everything binds to 127.0.0.1 and is stopped at the end."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
from ragfleet.app import create_app
from ragfleet.ingestion.loaders import iter_files, load_file
from ragfleet.settings import ModelSettings, Settings, StoreSettings
from tests.support.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]

# Generation is the slow part on 2 cores: tests ask for a handful of tokens.
TEST_MAX_TOKENS = 8

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def llm_server() -> Iterator[EmbeddedLLMServer]:
    """The embedded llama.cpp server with the packaged SmolLM2 model, shared by all tests."""
    server = EmbeddedLLMServer.from_settings(ModelSettings())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_settings(tmp_path: Path, llm_server: EmbeddedLLMServer) -> SettingsFactory:
    """Settings over a fresh data directory, pointing at the shared LLM server; overrides are
    named by field, whatever their group, as the ``RAGFLEET_*`` variables are."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "llm_base_url": llm_server.base_url,
            "llm_max_tokens": TEST_MAX_TOKENS,
        }
        values.update(overrides)
        return Settings.from_env({}, **values)

    return factory


def document_json(path: Path) -> dict[str, Any]:
    """A repository file as a POST /documents item."""
    return dataclasses.asdict(load_file(path, REPO))


def sample_corpus() -> list[dict[str, Any]]:
    """The corpus `make run` serves: the README and docs/."""
    return [document_json(p) for p in iter_files([REPO / "README.md", REPO / "docs"])]


@pytest.fixture(scope="session")
async def corpus_client(
    tmp_path_factory: pytest.TempPathFactory, llm_server: EmbeddedLLMServer
) -> AsyncIterator[AsyncTestClient[Any]]:
    """One app with the sample corpus ingested, shared by read-only tests."""
    settings = Settings(
        store=StoreSettings(data_dir=tmp_path_factory.mktemp("corpus")),
        models=ModelSettings(llm_base_url=llm_server.base_url, llm_max_tokens=TEST_MAX_TOKENS),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.post("/documents", json={"documents": sample_corpus()})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server for one test, killed at the end even if the test fails."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def milvus_server(tmp_path: Path) -> Iterator[MilvusLiteServer]:
    """A Milvus Lite server on loopback, as ``ragfleet serve --workers N`` starts for its workers;
    stopped at the end even if the test fails."""
    server = MilvusLiteServer(tmp_path / "shared-milvus.db")
    server.start()
    yield server
    server.stop()


def sample_value(name: str, **labels: str) -> float:
    """A sample of this process's Prometheus registry (0 when never incremented)."""
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0
