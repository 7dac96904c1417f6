"""The Litestar application factory: ``uvicorn --factory ragfleet.app:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Controller, Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.stores.base import Store
from litestar.types import LifeSpanReceive, LifeSpanScope, LifeSpanSend, Receive, Scope, Send
from loguru import logger

import ragfleet
from ragfleet.api.controllers import DocumentController, HealthController, QueryController
from ragfleet.api.errors import EXCEPTION_HANDLERS
from ragfleet.api.hit_path import CacheHitPath
from ragfleet.api.llm_metrics import llm_metrics_controller
from ragfleet.api.openai_compat import OpenAIController
from ragfleet.api.openapi import ClosedStructSchemaPlugin, api_key_security
from ragfleet.api.request_context import RequestContextMiddleware
from ragfleet.api.streaming import QueryStreamController
from ragfleet.observability.logging import configure_logging
from ragfleet.security.api_keys import KeyRing, parse_api_keys
from ragfleet.security.auth import ApiKeyAuthenticationMiddleware
from ragfleet.security.network import parse_networks, peer_allowed
from ragfleet.security.rate_limit import STORE_NAME, build_rate_limit
from ragfleet.settings import Settings, split_list
from ragfleet.system.wiring import Services, build_services


class RagfleetApp(Litestar):
    """Litestar with :class:`CacheHitPath` in front: a cache hit of ``POST /query`` is answered
    before routing; every other request (and every miss) goes through Litestar as usual."""

    hit_path: CacheHitPath | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if self.hit_path is not None and scope["type"] == ScopeType.HTTP:
            forward = await self.hit_path(scope, receive, send)  # type: ignore[arg-type]
            if forward is None:
                return
            receive = forward
        await super().__call__(scope, receive, send)


def provide_services(state: State) -> Services:
    """Hand the lifespan-built services to handlers."""
    services: Services = state.services
    return services


def _metrics_controllers(settings: Settings) -> list[type[Controller]]:
    """``/metrics`` (Litestar's Prometheus controller, multiprocess-aware) and, when configured,
    the LLM server's relayed at ``/metrics/llm``, both behind one address allow-list."""
    networks = parse_networks(
        split_list(settings.security.metrics_allow_from), "RAGFLEET_METRICS_ALLOW_FROM"
    )
    guard = peer_allowed(networks)

    class MetricsController(PrometheusController):
        path = "/metrics"
        guards = [guard]
        include_in_schema = False

    controllers: list[type[Controller]] = [MetricsController]
    if settings.models.llm_metrics_url:
        controllers.append(llm_metrics_controller(settings.models.llm_metrics_url, guard))
    return controllers


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; settings default to the ``RAGFLEET_*`` environment."""
    settings = settings or Settings.from_env()
    configure_logging(settings.logging.log_level, settings.logging.log_json)
    keyring = KeyRing(parse_api_keys(settings.security.api_keys))
    prometheus = PrometheusConfig(
        app_name="ragfleet", prefix="ragfleet_http", group_path=True, exclude=["^/metrics"]
    )
    middleware: list[Any] = [RequestContextMiddleware, prometheus.middleware]
    if keyring.enabled:
        middleware.append(DefineMiddleware(ApiKeyAuthenticationMiddleware, keyring=keyring))
    stores: dict[str, Store] = {}
    rate_limit = build_rate_limit(settings)
    if rate_limit is not None:
        config, stores[STORE_NAME] = rate_limit
        middleware.append(config.middleware)
    origins = split_list(settings.security.cors_allow_origins)
    cors = (
        CORSConfig(
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,  # bearer keys, no cookies
        )
        if origins
        else None
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if not keyring.enabled:
            logger.warning(
                "authentication is OFF: no RAGFLEET_API_KEYS configured; bind to loopback only"
                " (RAGFLEET_HOST={})",
                settings.server.host,
            )
        async with build_services(settings) as services:
            app.state.services = services
            logger.info("ragfleet {} ready", ragfleet.__version__)
            yield

    app = RagfleetApp(
        route_handlers=[
            QueryController,
            QueryStreamController,
            DocumentController,
            HealthController,
            OpenAIController,
            *_metrics_controllers(settings),
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        lifespan=[lifespan],
        middleware=middleware,
        stores=stores,
        cors_config=cors,
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[ClosedStructSchemaPlugin()],
        request_max_body_size=settings.server.request_max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="ragfleet",
            version=ragfleet.__version__,
            description="Retrieval-augmented answers over your documents.",
            path="/schema",
            **api_key_security(enabled=keyring.enabled),
            render_plugins=[SwaggerRenderPlugin()],
        ),
        logging_config=None,
    )
    if rate_limit is None:  # with a rate limit, every request must reach the limiter
        app.hit_path = CacheHitPath(
            app,
            keyring=keyring,
            prometheus=prometheus,
            max_body_bytes=settings.server.request_max_body_bytes,
            cors=cors is not None,
        )
    return app
