"""Errors on pages: a page in the shopper's language, saying what to do, with the error's code.

On the staff tablet the page also leads back to where staff came from, to try again.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from litestar.types import ExceptionHandlersMap
from pydantic import ValidationError

from pos.errors import PosError
from pos.pages.rendering import render, request_translator
from pos.problems import code_for_status

__all__ = ["PAGE_ERRORS", "error_message", "fragment_error", "page_error"]


def error_message(request: Request[Any, Any, Any], code: str) -> str:
    """The translated message for an error code (a general one for codes without their own)."""
    t = request_translator(request)
    key = f"error.{code}"
    return t(key) if t.has(key) else t("error.generic")


def _status_and_code(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, PosError):
        return exc.status, exc.code
    if isinstance(exc, ValidationError):
        return 422, "invalid_input"
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return status, code_for_status(status) if status < 500 else "internal_error"


_STAFF = "/staff"
_STORE_PAGE = re.compile(r"/staff/stores/\d+")


def _way_back(request: Request[Any, Any, Any]) -> str | None:
    """For a staff page: the staff page it came from (only its path and query, so never another
    site), else the store's page, else the staff home. None for other pages."""
    path = request.url.path
    if not path.startswith(_STAFF):
        return None
    came_from = _path_and_query(request.headers.get("referer", ""))
    if came_from and _opens(request, came_from[0]):
        return urlunsplit(("", "", *came_from, ""))
    store = _STORE_PAGE.match(path)
    return store[0] if store else _STAFF


def _path_and_query(url: str) -> tuple[str, str] | None:
    """The path and query of a staff page's URL; None for other URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 bracket, which no browser sends
        return None
    return (parts.path, parts.query) if parts.path.startswith(_STAFF) else None


def _opens(request: Request[Any, Any, Any], path: str) -> bool:
    """Whether this server has a page at `path`: a form's answer shown in place has none."""
    try:
        request.app.asgi_router.handle_routing(path=path, method="GET")
    except (NotFoundException, MethodNotAllowedException):
        return False
    return True


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, code = _status_and_code(exc)
    context = {"message": error_message(request, code), "code": code, "back": _way_back(request)}
    page = render(request, "error.html", context, status_code=status, switch=False)
    if isinstance(exc, HTTPException | PosError) and exc.headers:
        page.headers.update(exc.headers)  # e.g. a rate limit's Retry-After
    return page


def fragment_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """For fragments a page's script fetches: the message as a small HTML snippet."""
    status, code = _status_and_code(exc)
    context = {"message": error_message(request, code), "code": code}
    return render(request, "_error.html", context, status_code=status, switch=False)


PAGE_ERRORS: ExceptionHandlersMap = {
    PosError: page_error,
    ValidationError: page_error,
    HTTPException: page_error,
}
