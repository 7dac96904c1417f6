"""Bearer-key authentication and per-route scope guards.

Without configured keys authentication is off (embedded defaults on loopback) and the service
says so at start. Probes (``/healthz``, ``/readyz``), ``/metrics`` (guarded by an address
allow-list instead) and the API schema stay open.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from ragfleet.api.guards import check_json_content_type
from ragfleet.security.api_keys import ApiKey, KeyRing

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/schema")


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Turns ``Authorization: Bearer <key>`` into ``request.user`` (an :class:`ApiKey`)."""

    def __init__(self, app: ASGIApp, keyring: KeyRing) -> None:
        super().__init__(app=app, exclude=[f"^{p}" for p in OPEN_PATHS])
        self._keyring = keyring

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthorizedException(
                "missing API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="ragfleet"'},
            )
        key = self._keyring.match(secret.strip())
        if key is None:
            raise NotAuthorizedException(
                "invalid API key", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return AuthenticationResult(user=key, auth=None)


def check_scope(connection: ASGIConnection[Any, Any, Any, Any], scope: str) -> None:
    """403 unless the caller's key carries ``scope`` (or ``admin``); no-op when auth is off."""
    user = connection.scope.get("user")
    if isinstance(user, ApiKey) and not user.allows(scope):
        raise PermissionDeniedException(f"API key '{user.name}' lacks the '{scope}' scope")


def requires_scope(scope: str, *, json_body: bool = False) -> Any:
    """One guard per route (Litestar copies the handler for each guard it runs, per request):
    the scope check, and for JSON endpoints the content-type check too."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if json_body:
            check_json_content_type(connection)
        check_scope(connection, scope)

    guard.__name__ = f"requires_{scope}"
    return guard
