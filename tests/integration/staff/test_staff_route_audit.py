"""Every staff route of the whole app refuses a missing, a wrong-role and an other-store credential.

The routes are found by walking the app, so a new staff endpoint is covered without a new test.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from pos.staff.actors import ROLE_NAMES, RoleName
from tests.helpers.staff import add_store, login_as

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class StaffRoute:
    method: str
    path: str
    roles: tuple[RoleName, ...]
    head_office: bool


def _staff_routes(app: Litestar) -> Iterator[StaffRoute]:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            for guard in handler.resolve_guards():
                if getattr(guard, "__qualname__", "") != "staff.<locals>.staff_guard":
                    continue
                scope = inspect.getclosurevars(guard).nonlocals
                for method in handler.http_methods:
                    yield StaffRoute(method, route.path, scope["roles"], scope["head_office"])


def _url(path: str, store_id: int) -> str:
    for name in ("store_id", "supplier_id", "counter_id", "device_id", "order_id", "job_id"):
        path = path.replace(f"{{{name}:int}}", str(store_id if name == "store_id" else 1))
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + ("1" if ":int" in path[start:end] else "x") + path[end + 1 :]
    return path


async def _signed_in(app: Litestar, role: RoleName, store_id: int | None) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pos.test")
    await login_as(client, role, store_id)
    return client


async def _status(client: httpx.AsyncClient, route: StaffRoute, store_id: int) -> int:
    response = await client.request(route.method, _url(route.path, store_id), json={})
    return response.status_code


async def test_every_staff_route_refuses_missing_wrong_role_and_other_store(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    routes = list(_staff_routes(app))
    assert len(routes) >= 20, "the audit found too few staff routes: is the guard renamed?"
    store_id, other_store_id = await add_store(), await add_store()
    signed_in: dict[tuple[RoleName, str], httpx.AsyncClient] = {}
    for role in ROLE_NAMES:
        signed_in[(role, "here")] = await _signed_in(app, role, store_id)
        signed_in[(role, "elsewhere")] = await _signed_in(app, role, other_store_id)
    try:
        for route in routes:
            where = f"{route.method} {route.path}"
            assert await _status(client, route, store_id) == 401, f"{where}: no credential"
            allowed = route.roles[0]
            other = signed_in[(allowed, "elsewhere")]
            assert await _status(other, route, store_id) == 403, f"{where}: other store"
            for role in set(ROLE_NAMES) - set(route.roles):
                wrong = signed_in[(role, "here")]
                assert await _status(wrong, route, store_id) == 403, f"{where}: {role}"
    finally:
        for signed in signed_in.values():
            await signed.aclose()
