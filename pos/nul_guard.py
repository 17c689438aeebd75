"""Refusing a NUL character anywhere a request carries text: PostgreSQL's text cannot hold one.

Left to the database it ended in a 500 on PostgreSQL, while SQLite stored it. Every route now
answers 422 `text_nul` before doing anything: a NUL in the path, the query string, or a JSON or
form body. An uploaded file is its importer's to check, naming the line. A route with
`opt={"keeps_nul": True}` reads its own body (a provider's notification, kept as received).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from pos.errors import InvalidInput

__all__ = ["KEEPS_NUL", "holds_nul", "refuse_nul"]

KEEPS_NUL = {"keeps_nul": True}

_FORM = "application/x-www-form-urlencoded"
_URL_NUL = b"%00"
_JSON_NUL = b"\\u0000"


async def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """Litestar's `before_request`: 422 `text_nul` for a request with a NUL in its text."""
    if request.route_handler.opt.get("keeps_nul"):
        return
    if "\x00" in request.scope["path"] or _URL_NUL in request.scope["query_string"]:
        raise _nul()
    content_type, _ = request.content_type
    if content_type == _FORM and _URL_NUL in await request.body():
        raise _nul()
    if _is_json(content_type) and holds_nul(await request.body()):
        raise _nul()


def holds_nul(document: bytes) -> bool:
    """Whether a JSON (or CSV) document holds a NUL, raw or escaped."""
    return b"\x00" in document or _JSON_NUL in document


def _is_json(content_type: str) -> bool:
    """A JSON document (`application/json`, `application/problem+json`), not a file of lines."""
    return content_type == "application/json" or content_type.endswith("+json")


def _nul() -> InvalidInput:
    return InvalidInput(
        "the request's text holds a NUL character (\\u0000), which no field may hold",
        code="text_nul",
    )
