"""`pos suppliers key`: the API keys suppliers' systems push stock and shipment notices with."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from pos.cli_database import cli_settings, with_database
from pos.cli_output import echo_table, hinted
from pos.staff import supplier_keys
from pos.staff.supplier_keys import SupplierBrief, SupplierKeyIssued, SupplierKeyListed

__all__ = ["suppliers_group"]

_CREDIT_CODE = click.argument("credit_code", metavar="CREDIT_CODE")


@click.group("suppliers")
def suppliers_group() -> None:
    """Suppliers' access to the API."""


@suppliers_group.group("key")
def key_group() -> None:
    """A supplier's API keys, named by its unified social credit code (as in the catalog)."""


def _time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _revoked(key: SupplierKeyListed) -> str:
    return _time(key.revoked_at) if key.revoked_at else "live"


async def _supplier(credit_code: str) -> SupplierBrief:
    hint = "check the code against the catalog (`pos catalog import` loads suppliers)"
    return await hinted(
        supplier_keys.supplier_by_credit_code(credit_code), "supplier_not_found", hint
    )


@key_group.command("add")
@_CREDIT_CODE
def add_key(credit_code: str) -> None:
    """Issue a new API key and signing secret; both are printed once, and never again."""
    public_url = cli_settings().public_url

    async def issue() -> tuple[SupplierBrief, SupplierKeyIssued]:
        supplier = await _supplier(credit_code)
        return supplier, await supplier_keys.create_supplier_key(supplier.id)

    supplier, issued = with_database(issue)
    click.echo(f"new API key of supplier {supplier.id} {supplier.credit_code} {supplier.name_zh}")
    click.echo(f"  key id: {issued.key_id}")
    click.echo(f"  X-Api-Key: {issued.api_key}")
    click.echo(f"  signing secret: {issued.signing_secret}")
    click.echo(
        "Shown only now: hand both to the supplier over a safe channel. It pushes to"
        f" {public_url}/api/suppliers/{supplier.id}/stock and /shipments, signed with the secret;"
        f" `pos suppliers key revoke {issued.key_id}` stops the key."
    )


@key_group.command("list")
@_CREDIT_CODE
def list_keys(credit_code: str) -> None:
    """The supplier's keys, live and revoked (never their secrets)."""

    async def read() -> tuple[SupplierBrief, list[SupplierKeyListed]]:
        supplier = await _supplier(credit_code)
        return supplier, await supplier_keys.list_supplier_keys(supplier.id)

    supplier, keys = with_database(read)
    if not keys:
        click.echo(
            f"supplier {supplier.credit_code} has no API key: `pos suppliers key add` makes one"
        )
        return
    rows = [(key.key_id, _time(key.created_at), _revoked(key)) for key in keys]
    echo_table(("key id", "created", "revoked"), rows)


@key_group.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Refuse a key from now on: its requests and their signatures (safe to repeat)."""
    hint = "`pos suppliers key list CREDIT_CODE` shows a supplier's keys"
    key = with_database(
        lambda: hinted(supplier_keys.revoke_supplier_key(key_id), "supplier_key_not_found", hint)
    )
    click.echo(
        f"{key.key_id} of supplier {key.supplier_credit_code} revoked at {_revoked(key)}:"
        " refused from now on"
    )
