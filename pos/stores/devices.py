"""Stores' devices as an operator finds them: to list them, and to pair one (`pos stores`)."""

from __future__ import annotations

from typing import Any, NamedTuple

from pos.errors import NotFound
from pos.stores.service import store_ids_by_code
from pos.stores.tables import Device

__all__ = ["DeviceListed", "device_by_id", "device_by_name", "list_devices"]


class DeviceListed(NamedTuple):
    """A device with the codes and names its store layout gives it."""

    id: int
    store_id: int
    store_code: str
    name: str
    kind: str
    counter_code: str | None
    printer_name: str | None
    active: bool


_COLUMNS = (
    Device.id,
    Device.store.as_alias("store_id"),
    Device.store._.code.as_alias("store_code"),
    Device.name,
    Device.kind,
    Device.counter._.code.as_alias("counter_code"),
    Device.printer._.name.as_alias("printer_name"),
    Device.active,
)


def _select() -> Any:
    return Device.select(*_COLUMNS).order_by(Device.store._.code, Device.name)


async def list_devices(store_code: str | None = None) -> list[DeviceListed]:
    """Every device, or one store's (NotFound for a code no store has), by store and name."""
    query = _select()
    if store_code is not None:
        store_id = (await store_ids_by_code([store_code])).get(store_code)
        if store_id is None:
            raise NotFound(f"no store {store_code!r}", code="store_not_found")
        query = query.where(Device.store == store_id)
    return [DeviceListed(**row) for row in await query]


async def device_by_id(device_id: int) -> DeviceListed:
    """The device; NotFound `device_not_found` if there is none."""
    row = await _select().where(Device.id == device_id).first()
    if row is None:
        raise NotFound(f"no device {device_id}", code="device_not_found")
    return DeviceListed(**row)


async def device_by_name(store_code: str, name: str) -> DeviceListed:
    """The store's device of that name, as its layout names it; NotFound if none."""
    row = await _select().where((Device.store._.code == store_code) & (Device.name == name)).first()
    if row is None:
        raise NotFound(f"store {store_code!r} has no device {name!r}", code="device_not_found")
    return DeviceListed(**row)
