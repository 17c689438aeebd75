"""The PosError tree. Services raise these; one handler turns them into problem details.

Each error has a stable `code` a UI can translate and an HTTP `status`.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "PosError",
    "TooManyRequests",
    "Unavailable",
]


class PosError(Exception):
    """Base of every error a client may see."""

    status: ClassVar[int] = 400
    code: str = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers its answer carries besides the problem details."""
        return {}


class InvalidInput(PosError):
    """The request is well-formed but its content is wrong."""

    status = 422
    code = "invalid_input"


class NotAuthenticated(PosError):
    """No credential, or one that is unknown or expired."""

    status = 401
    code = "not_authenticated"


class Forbidden(PosError):
    """The credential is valid but not for this role or store."""

    status = 403
    code = "forbidden"


class NotFound(PosError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(PosError):
    """The request clashes with the current state (stock, a duplicate, a state transition)."""

    status = 409
    code = "conflict"


class TooManyRequests(PosError):
    """The client spent its budget of these requests for now; it may ask again in a while."""

    status = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, retry_after=retry_after)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unavailable(PosError):
    """A dependency (database, Redis, provider) does not answer; retrying later may work."""

    status = 503
    code = "unavailable"
