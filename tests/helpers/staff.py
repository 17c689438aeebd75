"""Credentials for tests of guarded endpoints: sign a client in, or get device/supplier headers.

Use them with the `client` fixture (or `db`): they write rows of the bound database directly.

    store_id = await add_store()
    await login_as(client, "manager", store_id)
    response = await client.post(f"/api/stores/{store_id}/...")
"""

from __future__ import annotations

import uuid

import httpx

from pos.catalog.tables import County, Province, Supplier
from pos.staff import service as staff
from pos.staff import supplier_keys
from pos.staff.actors import DeviceKind, RoleName, StaffActor
from pos.stores.tables import Counter, Device, Printer, Store

__all__ = [
    "PASSWORD",
    "add_counter",
    "add_device",
    "add_printer",
    "add_store",
    "add_supplier",
    "device_headers",
    "login_as",
    "make_user",
    "supplier_headers",
]

PASSWORD = "correct horse battery staple"


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def add_store() -> int:
    """A new store row; returns its id."""
    store = Store(code=_unique("S"), name_zh="测试门店", kind="subway_counter")
    rows = await Store.insert(store)
    return int(rows[0]["id"])


async def add_counter(store_id: int) -> int:
    """A new counter of `store_id`; returns its id."""
    rows = await Counter.insert(Counter(store=store_id, code=_unique("C"), name_zh="柜台"))
    return int(rows[0]["id"])


async def add_device(
    store_id: int, kind: DeviceKind = "kiosk", *, counter_id: int | None = None
) -> int:
    """A new active device of `store_id` (at `counter_id`, if given); returns its id."""
    device = Device(store=store_id, counter=counter_id, kind=kind, name=_unique("device-"))
    rows = await Device.insert(device)
    return int(rows[0]["id"])


async def add_printer(store_id: int, url: str, name: str = "收银小票机") -> int:
    """An 80 mm printer of `store_id` at `url` (e.g. a virtual printer's); returns its id."""
    row = Printer(store=store_id, name=name, connection_url=url, paper_width_mm=80)
    return int((await Printer.insert(row).returning(Printer.id))[0]["id"])


async def add_supplier() -> int:
    """A new supplier, in a test county shared by all of them; returns its id."""
    province = await Province.objects().get_or_create(
        Province.code == "99", defaults={Province.name_zh: "测试省"}
    )
    county = await County.objects().get_or_create(
        County.code == "990001", defaults={County.name_zh: "测试县", County.province: province.id}
    )
    credit_code = f"{uuid.uuid4().int % 10**18:018d}"
    supplier = Supplier(credit_code=credit_code, name_zh="测试供应商", county=county.id)
    return int((await Supplier.insert(supplier))[0]["id"])


async def make_user(role: RoleName, store_id: int | None) -> StaffActor:
    """A new user holding `role` at `store_id` (`None`: every store), password `PASSWORD`."""
    return await staff.create_user(_unique(f"{role}-"), PASSWORD, roles=[(role, store_id)])


async def login_as(client: httpx.AsyncClient, role: RoleName, store_id: int | None) -> StaffActor:
    """Sign `client` in as a new user with `role` at `store_id`; the cookie stays on `client`."""
    actor = await make_user(role, store_id)
    response = await client.post(
        "/api/staff/session", json={"username": actor.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return actor


async def device_headers(
    kind: DeviceKind, store_id: int, counter_id: int | None = None
) -> dict[str, str]:
    """Headers of a new device of `kind` in `store_id` (at `counter_id`) with a fresh token."""
    device_id = await add_device(store_id, kind, counter_id=counter_id)
    issued = await staff.issue_device_token(device_id, store_id=store_id)
    return {"Authorization": f"Bearer {issued.token}"}


async def supplier_headers(supplier_id: int) -> dict[str, str]:
    """Headers carrying a new API key of `supplier_id`."""
    issued = await supplier_keys.create_supplier_key(supplier_id)
    return {"X-Api-Key": issued.api_key}
