"""Every error a client sees is an RFC 9457 problem-details body with a stable code."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from pos.errors import PosError
from pos.logs import logger

__all__ = ["code_for_status", "exception_handlers"]

MEDIA_TYPE = "application/problem+json"

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def code_for_status(status: int) -> str:
    """The stable code of an HTTP error that carries none of its own."""
    return _CODES_BY_STATUS.get(status, "error")


def _problem(
    request: Request[Any, Any, Any], status: int, code: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    body = {
        "type": f"/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    return Response(body, status_code=status, media_type=MEDIA_TYPE)


def _pos_error(request: Request[Any, Any, Any], exc: PosError) -> Response[dict[str, Any]]:
    response = _problem(request, exc.status, exc.code, exc.detail, **exc.extra)
    response.headers.update(exc.headers)
    return response


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    code = code_for_status(exc.status_code)
    detail = exc.detail
    if isinstance(exc, ValidationException):
        code = "invalid_request"
        extra["errors"] = exc.extra
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size()
        detail = f"the body passes this endpoint's {limit} bytes: send it in parts"
        extra["max_bytes"] = limit
    response = _problem(request, exc.status_code, code, detail, **extra)
    response.headers.update(exc.headers or {})
    return response


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error", path=request.url.path)
    return _problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side; the request id in the headers helps us find it.",
    )


exception_handlers: ExceptionHandlersMap = {
    PosError: _pos_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
