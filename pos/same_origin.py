"""Refusing a change another origin asks for (cross-site request forgery), pages and API alike.

Staff sign in with a cookie, SameSite=Strict, which the pages and the API both take: other
sites' requests go without it, but another origin of the same site (another port of this host, a
sibling subdomain) still has it sent. A browser names the origin of a request in `Origin`, or in
`Referer` when it sends no `Origin`: a request that changes something and names another origin
than this server's is refused. One with neither comes from no browser, with no cookie but its
own to send, and passes, as in Go's `net/http.CrossOriginProtection`.

This server's origin is POS_PUBLIC_URL's, or the Host the request was sent to, in any scheme (a
proxy in front may end TLS); a default port counts whether spelt out or not. `Origin: null`
names no origin and is refused: the pages' Referrer-Policy (same-origin) has a browser send
theirs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from pos.errors import Forbidden
from pos.settings import Settings

__all__ = ["same_origin_changes"]

Connection = ASGIConnection[Any, Any, Any, Any]
Origin = tuple[str, str, int]  # scheme, host name, port

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


async def same_origin_changes(connection: Connection, _: BaseRouteHandler) -> None:
    """Guard: refuse a request that changes something when a browser says another origin sent it."""
    if connection.scope.get("method") in _SAFE_METHODS:
        return
    sender = _sender(connection)
    if sender is not None and not _is_own(sender, connection):
        raise Forbidden("the request was sent from another origin", code="cross_origin")


def _sender(connection: Connection) -> str | None:
    """The URL whose origin the browser says sent the request: `Origin`, else `Referer`; or None."""
    headers = connection.headers
    return headers.get("origin", headers.get("referer"))


def _is_own(sender: str, connection: Connection) -> bool:
    sent = _origin(sender)
    if sent is None:
        return False
    settings: Settings = connection.app.state["settings"]
    if sent == _origin(settings.public_url):
        return True
    host = _origin(f"{sent[0]}://{connection.headers.get('host', '')}")
    return host is not None and host[1:] == sent[1:]


def _origin(url: str) -> Origin | None:
    """The URL's origin, its port spelt out; None for no web origin (`null`, a bad host or port)."""
    try:
        parts = urlsplit(url.lower())
        port = parts.port
    except ValueError:  # e.g. an unclosed [IPv6 bracket, which no browser sends
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]
