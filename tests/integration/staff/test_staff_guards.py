"""The guards other domains use, on a tiny app: devices, suppliers and head-office staff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from pos.problems import exception_handlers
from pos.staff import service as staff_service
from pos.staff import supplier_keys
from pos.staff.actors import DeviceActor, RoleName, StaffActor, SupplierActor
from pos.staff.guards import (
    DEVICE_ACTOR,
    SESSION_COOKIE,
    STAFF_ACTOR,
    SUPPLIER_ACTOR,
    device,
    staff,
    supplier,
)
from pos.staff.tables import DeviceToken, SupplierKey
from pos.stores.tables import Device
from tests.helpers.staff import (
    PASSWORD,
    add_counter,
    add_device,
    add_store,
    add_supplier,
    device_headers,
    login_as,
    make_user,
    supplier_headers,
)

pytestmark = pytest.mark.anyio


@get("/stores/{store_id:int}/kiosk", guards=[device("kiosk")], dependencies={"actor": DEVICE_ACTOR})
async def kiosk_at_store(store_id: FromPath[int], actor: NamedDependency[DeviceActor]) -> int:
    return actor.device_id


@get("/counters/{counter_id:int}/device", guards=[device()])
async def any_device_at_counter(counter_id: FromPath[int]) -> None:
    return None


@get(
    "/suppliers/{supplier_id:int}/stock",
    guards=[supplier()],
    dependencies={"actor": SUPPLIER_ACTOR},
)
async def supplier_stock(supplier_id: FromPath[int], actor: NamedDependency[SupplierActor]) -> str:
    return actor.key_id


@get("/stores/{store_id:int}/shelf", guards=[staff("restocker", "manager")])
async def shelf(store_id: FromPath[int]) -> None:
    return None


@get("/head-office/report", guards=[staff("manager", head_office=True)])
async def head_office_report() -> None:
    return None


@get("/unguarded", dependencies={"actor": STAFF_ACTOR})
async def unguarded(actor: NamedDependency[StaffActor]) -> None:
    return None


@pytest.fixture
async def http(db: str) -> AsyncIterator[httpx.AsyncClient]:
    handlers = [
        kiosk_at_store,
        any_device_at_counter,
        supplier_stock,
        shelf,
        head_office_report,
        unguarded,
    ]
    app = Litestar(route_handlers=handlers, exception_handlers=exception_handlers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as client:
        yield client


async def _sign_in(http: httpx.AsyncClient, role: RoleName, store_id: int | None) -> None:
    actor = await make_user(role, store_id)
    token, _ = await staff_service.login(actor.username, PASSWORD)
    http.cookies.set(SESSION_COOKIE, token)


def _code(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json().get("code")


async def test_a_kiosk_of_the_store_is_let_in_with_its_actor(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    device_id = await add_device(store_id, "kiosk")
    issued = await staff_service.issue_device_token(device_id, store_id=store_id)
    headers = {"Authorization": f"Bearer {issued.token}"}
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert (response.status_code, response.json()) == (200, device_id)


async def test_a_device_of_another_store_is_refused(http: httpx.AsyncClient) -> None:
    store_id, other_store_id = await add_store(), await add_store()
    headers = await device_headers("kiosk", other_store_id)
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert _code(response) == (403, "other_store")


async def test_a_device_of_another_counter_is_refused(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    counter_id, other_counter_id = await add_counter(store_id), await add_counter(store_id)
    headers = await device_headers("counter", store_id, other_counter_id)
    assert _code(await http.get(f"/counters/{counter_id}/device", headers=headers)) == (
        403,
        "other_counter",
    )
    headers = await device_headers("counter", store_id, counter_id)
    assert (await http.get(f"/counters/{counter_id}/device", headers=headers)).status_code == 200


async def test_a_device_of_the_wrong_kind_is_refused(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    headers = await device_headers("tablet", store_id)
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert _code(response) == (403, "wrong_device_kind")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic a2lvc2s6MTIz"}, {"Authorization": "Bearer "}],
    ids=["none", "basic", "empty"],
)
async def test_a_missing_device_token_is_refused(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    store_id = await add_store()
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert _code(response) == (401, "no_credential")


async def test_a_revoked_device_token_is_refused(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    headers = await device_headers("kiosk", store_id)
    await DeviceToken.update({DeviceToken.revoked_at: datetime.now(UTC)}, force=True)
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert _code(response) == (401, "token_invalid")


async def test_a_deactivated_device_is_refused(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    headers = await device_headers("kiosk", store_id)
    await Device.update({Device.active: False}, force=True)
    response = await http.get(f"/stores/{store_id}/kiosk", headers=headers)
    assert _code(response) == (401, "token_invalid")


async def test_a_supplier_key_lets_its_supplier_in(http: httpx.AsyncClient) -> None:
    supplier_id = await add_supplier()
    issued = await supplier_keys.create_supplier_key(supplier_id)
    response = await http.get(
        f"/suppliers/{supplier_id}/stock", headers={"X-Api-Key": issued.api_key}
    )
    assert (response.status_code, response.text) == (200, issued.key_id)


@pytest.mark.parametrize(
    ("api_key", "code"),
    [
        ("{key_id}.wrong-secret", "api_key_invalid"),
        ("{key_id}", "api_key_invalid"),
        ("sk_0000000000000000.{secret}", "api_key_invalid"),
        ("", "no_credential"),
    ],
    ids=["wrong-secret", "no-secret", "unknown-key", "missing"],
)
async def test_a_wrong_supplier_key_is_refused(
    http: httpx.AsyncClient, api_key: str, code: str
) -> None:
    supplier_id = await add_supplier()
    issued = await supplier_keys.create_supplier_key(supplier_id)
    headers = {"X-Api-Key": api_key.format(key_id=issued.key_id, secret=issued.secret)}
    response = await http.get(f"/suppliers/{supplier_id}/stock", headers=headers)
    assert _code(response) == (401, code)


async def test_a_revoked_supplier_key_is_refused(http: httpx.AsyncClient) -> None:
    supplier_id = await add_supplier()
    headers = await supplier_headers(supplier_id)
    await SupplierKey.update({SupplierKey.revoked_at: datetime.now(UTC)}, force=True)
    response = await http.get(f"/suppliers/{supplier_id}/stock", headers=headers)
    assert _code(response) == (401, "api_key_invalid")


async def test_another_suppliers_key_is_refused(http: httpx.AsyncClient) -> None:
    supplier_id, other_supplier_id = await add_supplier(), await add_supplier()
    headers = await supplier_headers(other_supplier_id)
    response = await http.get(f"/suppliers/{supplier_id}/stock", headers=headers)
    assert _code(response) == (403, "other_supplier")


async def test_any_of_the_guards_roles_is_let_in(http: httpx.AsyncClient) -> None:
    store_id = await add_store()
    await _sign_in(http, "restocker", store_id)
    assert (await http.get(f"/stores/{store_id}/shelf")).status_code == 200
    await _sign_in(http, "cashier", store_id)
    assert _code(await http.get(f"/stores/{store_id}/shelf")) == (403, "wrong_role")


async def test_head_office_work_refuses_a_store_manager(http: httpx.AsyncClient) -> None:
    await _sign_in(http, "manager", await add_store())
    assert _code(await http.get("/head-office/report")) == (403, "other_store")
    await _sign_in(http, "manager", None)
    assert (await http.get("/head-office/report")).status_code == 200


async def test_head_office_gets_404_for_a_store_id_no_column_holds(
    client: httpx.AsyncClient,
) -> None:
    await login_as(client, "manager", None)
    response = await client.get(f"/api/stores/{2**40}/printers")  # a 500 on PostgreSQL before
    assert (response.status_code, response.json()["code"]) == (404, "store_not_found")


async def test_an_actor_dependency_without_its_guard_refuses(http: httpx.AsyncClient) -> None:
    await _sign_in(http, "manager", None)
    assert _code(await http.get("/unguarded")) == (401, "no_credential")
