"""Address allow-lists for endpoints that must not be reachable from everywhere (``/metrics``).

The address checked is ``scope["client"]``: the TCP peer, or — only when that peer is one of
``RAGFLEET_TRUSTED_PROXIES`` — the address uvicorn took from ``X-Forwarded-For`` (the right-most
one not itself a trusted proxy). A client behind the gateway is therefore judged by its own address,
and cannot pose as 127.0.0.1 by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: list[str], setting: str) -> list[Network]:
    """CIDRs or single addresses; a bad one names the setting."""
    networks: list[Network] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{setting}: {item!r} is not an address or CIDR") from exc
    return networks


def address_allowed(address: str, networks: list[Network]) -> bool:
    """True when ``address`` lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def peer_allowed(networks: list[Network]) -> Any:
    """A guard admitting only requests whose direct peer is in ``networks``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        client = connection.scope.get("client")
        address = client[0] if client else ""
        if not address_allowed(address, networks):
            raise PermissionDeniedException(
                "this address may not read /metrics (see RAGFLEET_METRICS_ALLOW_FROM)"
            )

    return guard
