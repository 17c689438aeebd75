"""Refusing a staff form that another origin sends (cross-site request forgery).

The session cookie is SameSite=Strict, so other sites' posts go without it; but another origin
of the same site (another port of this host, a sibling subdomain) still has it sent. A browser
names the origin of a post in `Origin`, or in `Referer` when it sends no `Origin`: a post naming
another origin than this server's is refused. One with neither comes from no browser, with no
cookie but its own to send, and passes, as in Go's `net/http.CrossOriginProtection`.

This server's origin is POS_PUBLIC_URL's, or the Host the request was sent to, in any scheme
(a proxy in front may end TLS). `Origin: null` names no origin and is refused: the pages'
Referrer-Policy (same-origin) has a browser send theirs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from pos.errors import Forbidden
from pos.settings import Settings

__all__ = ["same_origin_posts"]

Connection = ASGIConnection[Any, Any, Any, Any]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sender(connection: Connection) -> str | None:
    """The origin the browser says sent the request: `Origin`, else `Referer`'s; or None."""
    origin = connection.headers.get("origin")
    if origin is not None:
        return origin
    referer = connection.headers.get("referer")
    if referer is None:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}"


def _is_own(origin: str, connection: Connection) -> bool:
    settings: Settings = connection.app.state["settings"]
    sent, public = urlsplit(origin.lower()), urlsplit(settings.public_url.lower())
    host = connection.headers.get("host", "").lower()
    return (sent.scheme, sent.netloc) == (public.scheme, public.netloc) or (
        bool(host) and sent.netloc == host
    )


async def same_origin_posts(connection: Connection, _: BaseRouteHandler) -> None:
    """Guard: refuse a request that changes something when a browser says another origin sent it."""
    if connection.scope.get("method") in _SAFE_METHODS:
        return
    origin = _sender(connection)
    if origin is not None and not _is_own(origin, connection):
        raise Forbidden("the form was sent from another origin", code="cross_origin")
