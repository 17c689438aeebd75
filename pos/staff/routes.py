"""Staff API: tablet sign-in sessions and device bearer tokens."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from pos.db import RowId
from pos.idempotency import OptionalIdempotencyKey
from pos.settings import Settings
from pos.staff import service as staff_service
from pos.staff.actors import StaffActor
from pos.staff.guards import SESSION_COOKIE, STAFF_ACTOR, any_staff, session_cookie, staff
from pos.staff.login_limit import spend_login_try, spend_user_try
from pos.staff.schemas import DeviceTokenOut, LoginRequest, StaffOut

__all__ = ["DeviceTokenController", "SessionController"]


class SessionController(Controller):
    path = "/api/staff/session"
    tags = ("staff",)

    @post(
        operation_id="staffLogin",
        status_code=HTTP_200_OK,
        guards=[spend_login_try],
        summary="Sign in; sets the pos_session cookie",
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        settings: NamedDependency[Settings],
    ) -> Response[StaffOut]:
        """Wrong username and wrong password answer alike: 401 `bad_credentials`.

        Tries per client address, and tries per username, each share one budget with the
        tablet's sign-in page: 429 past either.
        """
        await spend_user_try(request, data.username)
        token, actor = await staff_service.login(data.username, data.password)
        return Response(StaffOut.from_actor(actor), cookies=[session_cookie(token, settings)])

    @get(
        operation_id="staffMe",
        guards=[any_staff],
        dependencies={"actor": STAFF_ACTOR},
        summary="The signed-in staff user",
    )
    async def me(self, actor: NamedDependency[StaffActor]) -> StaffOut:
        """The user and roles behind the session cookie."""
        return StaffOut.from_actor(actor)

    @delete(operation_id="staffLogout", guards=[any_staff], summary="Sign out")
    async def logout(self, request: Request[Any, Any, Any]) -> Response[None]:
        """End the session and clear the cookie."""
        await staff_service.logout(request.cookies[SESSION_COOKIE])
        response: Response[None] = Response(None)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


class DeviceTokenController(Controller):
    path = "/api/stores/{store_id:int}/devices/{device_id:int}/tokens"
    tags = ("staff",)
    guards = (staff("manager"),)

    @post(operation_id="issueDeviceToken", summary="Issue a bearer token for a store's device")
    async def issue(
        self,
        store_id: FromPath[RowId],
        device_id: FromPath[RowId],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> DeviceTokenOut:
        """The token is in this answer only; store it on the device.

        A retry with the same key issues no second token: 409 `device_token_already_issued`
        names the first (`token_id`). The token itself is never stored, so it cannot be answered
        again; if the first answer was lost, revoke that token and issue with a new key.
        """
        return await staff_service.issue_device_token(
            device_id, store_id=store_id, idempotency_key=idempotency_key
        )

    @delete("/{token_id:int}", operation_id="revokeDeviceToken", summary="Revoke a device token")
    async def revoke(
        self, store_id: FromPath[RowId], device_id: FromPath[RowId], token_id: FromPath[RowId]
    ) -> None:
        """The token stops working at once; revoking it again changes nothing."""
        await staff_service.revoke_device_token(token_id, device_id=device_id, store_id=store_id)
