"""Refusing a NUL character anywhere a request carries text: PostgreSQL's text cannot hold one.

Left to the database it ended in a 500 on PostgreSQL, while SQLite stored it. Every route now
answers 422 `text_nul` before doing anything: a NUL in the path, the query string, a form's text
fields, or a body the route decodes (Litestar decodes JSON whatever the Content-Type says).
An uploaded file is its importer's to check, naming the line. A route with
`opt={"keeps_nul": True}` reads its own body (a provider's notification, kept as received).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from pos.errors import InvalidInput

__all__ = ["KEEPS_NUL", "holds_nul", "refuse_nul"]

KEEPS_NUL = {"keeps_nul": True}

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_URL_NUL = b"%00"
_JSON_NUL = b"\\u0000"


async def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """Litestar's `before_request`: 422 `text_nul` for a request with a NUL in its text."""
    if request.route_handler.opt.get("keeps_nul"):
        return
    if "\x00" in request.scope["path"] or _URL_NUL in request.scope["query_string"]:
        raise _nul()
    if await _body_holds_nul(request):
        raise _nul()


def holds_nul(document: bytes) -> bool:
    """Whether a JSON (or CSV) document holds a NUL, raw or escaped."""
    return b"\x00" in document or _JSON_NUL in document


async def _body_holds_nul(request: Request[Any, Any, Any]) -> bool:
    content_type, _ = request.content_type
    if content_type == _MULTIPART:
        form = await request.form()
        return any(isinstance(value, str) and "\x00" in value for _, value in form.multi_items())
    if content_type == _FORM:
        body = await request.body()
        return _URL_NUL in body or b"\x00" in body
    if _is_json(content_type) or _decodes_body(request):
        return holds_nul(await request.body())
    return False


def _decodes_body(request: Request[Any, Any, Any]) -> bool:
    """Whether the route takes the body as its `data`, decoded by Litestar."""
    return "data" in request.route_handler.parsed_fn_signature.parameters


def _is_json(content_type: str) -> bool:
    """A JSON document (`application/json`, `application/problem+json`), not a file of lines."""
    return content_type == "application/json" or content_type.endswith("+json")


def _nul() -> InvalidInput:
    return InvalidInput(
        "the request's text holds a NUL character (\\u0000), which no field may hold",
        code="text_nul",
    )
