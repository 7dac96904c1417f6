"""The Litestar application factory: ``uvicorn --factory ragfleet.app:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from loguru import logger

import ragfleet
from ragfleet.api.controllers import DocumentController, HealthController, QueryController
from ragfleet.api.errors import EXCEPTION_HANDLERS
from ragfleet.api.request_context import RequestContextMiddleware
from ragfleet.logging_setup import configure_logging
from ragfleet.settings import Settings
from ragfleet.system.container import Services, build_services


def provide_services(state: State) -> Services:
    """Hand the lifespan-built services to handlers."""
    services: Services = state.services
    return services


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; settings default to the ``RAGFLEET_*`` environment."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with build_services(settings) as services:
            app.state.services = services
            logger.info("ragfleet {} ready", ragfleet.__version__)
            yield

    return Litestar(
        route_handlers=[QueryController, DocumentController, HealthController],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        lifespan=[lifespan],
        middleware=[RequestContextMiddleware],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.request_max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="ragfleet",
            version=ragfleet.__version__,
            description="Retrieval-augmented answers over your documents.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        logging_config=None,
    )
