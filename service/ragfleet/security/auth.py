"""Bearer-key authentication and per-route scope guards.

Without configured keys authentication is off (embedded defaults on loopback) and the service
says so at start. Probes (``/healthz``, ``/readyz``), ``/metrics`` (guarded by an address
allow-list instead) and the API schema stay open.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from ragfleet.security.api_keys import ApiKey, KeyRing

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/schema")


def bearer_secret(authorization: str) -> str | None:
    """The key in an ``Authorization: Bearer <key>`` header value, or None."""
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def key_with_scope(keyring: KeyRing, authorization: str, scope: str) -> ApiKey | None:
    """The configured key presented in ``authorization`` if it carries ``scope``, else None.

    What the middleware and :func:`check_scope` decide together, for callers that hand every
    refusal to them to answer (the cache-hit path)."""
    secret = bearer_secret(authorization)
    key = keyring.match(secret) if secret is not None else None
    return key if key is not None and key.allows(scope) else None


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Turns ``Authorization: Bearer <key>`` into ``request.user`` (an :class:`ApiKey`)."""

    def __init__(self, app: ASGIApp, keyring: KeyRing) -> None:
        super().__init__(app=app, exclude=[f"^{p}" for p in OPEN_PATHS])
        self._keyring = keyring

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        secret = bearer_secret(connection.headers.get("authorization", ""))
        if secret is None:
            raise NotAuthorizedException(
                "missing API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="ragfleet"'},
            )
        key = self._keyring.match(secret)
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
