"""Litestar guards that let a credential in, and dependencies that hand its actor to handlers.

Staff sign in on tablets and carry the `pos_session` cookie (HttpOnly, SameSite=Strict); devices
send `Authorization: Bearer <token>`; supplier systems send `X-Api-Key: <key id>.<secret>`.
A guard answers 401 for a missing, unknown or expired credential and 403 for a valid one of the
wrong role, kind, store, counter or supplier (404 for a head-office role at a store id that names
no store); it puts the actor on `connection.state.actor`.

    @get(guards=[staff("manager")], dependencies={"actor": STAFF_ACTOR})
    async def handler(self, store_id: FromPath[int], actor: NamedDependency[StaffActor]) -> ...
"""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from pos.db import MAX_ROW_ID
from pos.errors import Forbidden, NotAuthenticated, NotFound
from pos.settings import Settings
from pos.staff import service, supplier_keys
from pos.staff.actors import DeviceActor, DeviceKind, RoleName, StaffActor, SupplierActor
from pos.stores import service as stores

__all__ = [
    "DEVICE_ACTOR",
    "SESSION_COOKIE",
    "STAFF_ACTOR",
    "SUPPLIER_ACTOR",
    "any_staff",
    "device",
    "provide_device_actor",
    "provide_staff_actor",
    "provide_supplier_actor",
    "session_cookie",
    "staff",
    "supplier",
]

SESSION_COOKIE = "pos_session"
API_KEY_HEADER = "x-api-key"

Connection = ASGIConnection[Any, Any, Any, Any]
ActorT = TypeVar("ActorT", StaffActor, DeviceActor, SupplierActor)


def session_cookie(token: str, settings: Settings) -> Cookie:
    """The cookie a sign-in sets, on the API and the tablet page alike."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https://"),
    )


def _credential(value: str | None, kind: str) -> str:
    if not value:
        raise NotAuthenticated(f"this needs {kind}", code="no_credential")
    return value


async def _signed_in(connection: Connection) -> StaffActor:
    token = _credential(connection.cookies.get(SESSION_COOKIE), "a staff sign-in")
    return await service.staff_for_session(token)


def _bearer_token(connection: Connection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _require_same(connection: Connection, param: str, held: int | None, code: str) -> None:
    wanted = connection.path_params.get(param)
    if wanted is not None and wanted != held:
        raise Forbidden(f"this credential is not valid for {param} {wanted}", code=code)


async def any_staff(connection: Connection, _: BaseRouteHandler) -> None:
    """Guard: any signed-in staff user, whatever their roles."""
    connection.state.actor = await _signed_in(connection)


def staff(*roles: RoleName, head_office: bool = False) -> Guard:
    """Guard: a staff user with one of `roles` at the path's `store_id`, or at head office."""
    if not roles:
        raise ValueError("staff() needs at least one role")

    async def staff_guard(connection: Connection, _: BaseRouteHandler) -> None:
        actor = await _signed_in(connection)
        # Without a `store_id` in the path only a head-office role can be meant: fail closed.
        store_id = None if head_office else connection.path_params.get("store_id")
        if not actor.has_role(roles, store_id):
            held_anywhere = any(role in roles for role, _ in actor.roles)
            code = "other_store" if held_anywhere else "wrong_role"
            raise Forbidden(f"this needs the role {' or '.join(roles)} here", code=code)
        if store_id is not None and actor.has_role(roles, None):
            # A head-office role opens every store id: one naming no store is a 404 here, not
            # a foreign-key failure (a 500) in the middle of the step. The path's range is
            # checked after the guards: an id no column holds must not reach the database.
            if not 1 <= store_id <= MAX_ROW_ID:
                raise NotFound(f"store {store_id} does not exist", code="store_not_found")
            await stores.store_rules(store_id)  # NotFound store_not_found
        connection.state.actor = actor

    return staff_guard


def device(*kinds: DeviceKind) -> Guard:
    """Guard: a device token of one of `kinds` (any kind if none), for the path's store/counter."""

    async def device_guard(connection: Connection, _: BaseRouteHandler) -> None:
        token = _credential(_bearer_token(connection), "a device bearer token")
        actor = await service.device_for_token(token)
        if kinds and actor.kind not in kinds:
            raise Forbidden(f"this needs a {' or '.join(kinds)} device", code="wrong_device_kind")
        _require_same(connection, "store_id", actor.store_id, "other_store")
        _require_same(connection, "counter_id", actor.counter_id, "other_counter")
        connection.state.actor = actor

    return device_guard


def supplier() -> Guard:
    """Guard: a supplier API key, for the path's `supplier_id` when there is one."""

    async def supplier_guard(connection: Connection, _: BaseRouteHandler) -> None:
        api_key = _credential(connection.headers.get(API_KEY_HEADER), "an X-Api-Key header")
        actor = await supplier_keys.supplier_for_key(api_key)
        _require_same(connection, "supplier_id", actor.supplier_id, "other_supplier")
        connection.state.actor = actor

    return supplier_guard


def _actor(request: Request[Any, Any, Any], kind: type[ActorT]) -> ActorT:
    actor = getattr(request.state, "actor", None)
    if not isinstance(actor, kind):
        # A handler declared the dependency without the matching guard: refuse, never guess.
        raise NotAuthenticated(f"this needs a {kind.__name__}", code="no_credential")
    return actor


def provide_staff_actor(request: Request[Any, Any, Any]) -> StaffActor:
    """Dependency: the staff user a `staff(...)` or `any_staff` guard let in."""
    return _actor(request, StaffActor)


def provide_device_actor(request: Request[Any, Any, Any]) -> DeviceActor:
    """Dependency: the device a `device(...)` guard let in."""
    return _actor(request, DeviceActor)


def provide_supplier_actor(request: Request[Any, Any, Any]) -> SupplierActor:
    """Dependency: the supplier a `supplier()` guard let in."""
    return _actor(request, SupplierActor)


STAFF_ACTOR = Provide(provide_staff_actor, sync_to_thread=False)
DEVICE_ACTOR = Provide(provide_device_actor, sync_to_thread=False)
SUPPLIER_ACTOR = Provide(provide_supplier_actor, sync_to_thread=False)
