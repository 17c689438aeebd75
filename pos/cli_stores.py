"""`pos stores devices` and `pos stores pair`: find a store's devices and give one a token."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import click

from pos.cli_database import cli_settings, with_database
from pos.cli_output import echo_table, hinted
from pos.staff import service as staff_service
from pos.staff.schemas import DeviceTokenOut
from pos.stores import devices as store_devices
from pos.stores.devices import DeviceListed

__all__ = ["list_devices", "pair_device", "pairing_line"]

_WHICH_DEVICES = "`pos stores devices` lists every device with its id"


def pairing_line(kind: str, name: str, token: str, public_url: str) -> str:
    """How a new device token is shown: a kiosk's as the link that pairs it, another's as is."""
    if kind == "kiosk":
        link = f"{public_url}/kiosk/pair?token={token}"
        return f"kiosk {name} (pairing link, open it on the kiosk): {link}"
    return f"{kind} {name} (bearer token, send as `Authorization: Bearer <token>`): {token}"


@click.command("devices")
@click.option("--store", "store_code", default=None, help="only this store's (its code)")
def list_devices(store_code: str | None) -> None:
    """Each device: id, store, name, kind, counter, printer, active, live tokens."""

    async def read() -> tuple[list[DeviceListed], dict[int, int]]:
        hint = "without --store it lists every store's devices"
        found = await hinted(store_devices.list_devices(store_code), "store_not_found", hint)
        return found, await staff_service.live_device_tokens([device.id for device in found])

    found, tokens = with_database(read)
    if not found:
        click.echo("no devices: a store layout lists them (`pos stores load FILE`)")
        return
    rows = [
        (
            str(device.id),
            device.store_code,
            device.name,
            device.kind,
            device.counter_code or "-",
            device.printer_name or "-",
            "yes" if device.active else "no",
            str(tokens.get(device.id, 0)) if device.active else "-",
        )
        for device in found
    ]
    headers = ("id", "store", "name", "kind", "counter", "printer", "active", "live tokens")
    echo_table(headers, rows)


@click.command("pair")
@click.argument("device_id", type=click.IntRange(1), required=False)
@click.option("--store", "store_code", default=None, help="with --name: the device's store code")
@click.option("--name", default=None, help="with --store: the device's name in the layout")
@click.option("--replace", is_flag=True, help="revoke its earlier tokens (a lost or new device)")
def pair_device(
    device_id: int | None, store_code: str | None, name: str | None, replace: bool
) -> None:
    """Issue a device token: a kiosk's pairing link, another device's bearer token.

    Name the device by its id (`pos stores devices`) or by its store code and name.
    """
    find: Callable[[], Awaitable[DeviceListed]]
    if device_id is not None and (store_code or name):
        raise click.UsageError("name the device by its id or by --store and --name, not both")
    if device_id is not None:
        find = functools.partial(store_devices.device_by_id, device_id)
    elif store_code is not None and name is not None:
        find = functools.partial(store_devices.device_by_name, store_code, name)
    else:
        raise click.UsageError("name the device by its id, or by --store CODE and --name NAME")
    public_url = cli_settings().public_url

    async def pair() -> tuple[DeviceListed, DeviceTokenOut]:
        device = await hinted(find(), "device_not_found", _WHICH_DEVICES)
        if replace:
            await staff_service.revoke_device_tokens([device.id])
        return device, await staff_service.issue_device_token(device.id, store_id=device.store_id)

    device, issued = with_database(pair)
    click.echo(pairing_line(device.kind, device.name, issued.token, public_url))
    earlier = "revoked" if replace else "still work (`--replace` revokes them)"
    click.echo(
        f"token {issued.token_id} of device {device.id} at {device.store_code}, shown only now;"
        f" its earlier tokens {earlier}"
    )
