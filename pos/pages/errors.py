"""Errors on pages: a page in the shopper's language, saying what to do, with the error's code."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
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


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, code = _status_and_code(exc)
    context = {"message": error_message(request, code), "code": code}
    page = render(request, "error.html", context, status_code=status, switch=False)
    if isinstance(exc, HTTPException) and exc.headers:
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
