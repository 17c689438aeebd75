"""What the staff tablet's page controllers share: the signed-in user, sign-in on 401, redirects.

Every form post must come from this server's own pages (`pos.same_origin`, app-wide).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response
from litestar.di import Provide
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from pos.errors import NotAuthenticated
from pos.pages import tablet
from pos.pages.errors import PAGE_ERRORS
from pos.staff.actors import StaffActor
from pos.staff.guards import SESSION_COOKIE

__all__ = ["AnyRequest", "StaffController", "see_other", "store_path"]

AnyRequest = Request[Any, Any, Any]


def see_other(url: str) -> Redirect:
    """Go to `url` after a form post (303: the browser then GETs it)."""
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


def store_path(store_id: int, rest: str = "") -> str:
    """The tablet's page of the store, or `rest` below it."""
    return f"/staff/stores/{store_id}{rest}"


async def _signed_in_staff(request: AnyRequest) -> StaffActor:
    return await tablet.signed_in(request.cookies.get(SESSION_COOKIE))


def _to_login(request: AnyRequest, exc: Exception) -> Response[Any]:
    return see_other("/staff/login")


class StaffController(Controller):
    """Pages under /staff for a signed-in user (else the sign-in form); errors as pages."""

    path = "/staff"
    include_in_schema = False
    exception_handlers = {**PAGE_ERRORS, NotAuthenticated: _to_login}
    dependencies = {"actor": Provide(_signed_in_staff)}
