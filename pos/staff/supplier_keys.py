"""Supplier API keys: issued by an operator, checked on every supplier request, revoked at once."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import NamedTuple

from pos.catalog import service as catalog
from pos.catalog.tables import Supplier
from pos.db import write_transaction
from pos.errors import NotAuthenticated, NotFound
from pos.staff.actors import SupplierActor
from pos.staff.credentials import digest, new_token
from pos.staff.tables import SupplierKey

__all__ = [
    "SupplierBrief",
    "SupplierKeyIssued",
    "SupplierKeyListed",
    "create_supplier_key",
    "list_supplier_keys",
    "revoke_supplier_key",
    "supplier_by_credit_code",
    "supplier_for_key",
    "supplier_signing_secret",
]


class SupplierKeyIssued(NamedTuple):
    """A new supplier API key; the secrets are shown once and never again."""

    key_id: str
    secret: str
    signing_secret: str

    @property
    def api_key(self) -> str:
        """The value the supplier sends in `X-Api-Key`."""
        return f"{self.key_id}.{self.secret}"


class SupplierKeyListed(NamedTuple):
    """A supplier API key as an operator lists it: no secret of it."""

    key_id: str
    supplier_credit_code: str
    created_at: datetime
    revoked_at: datetime | None


class SupplierBrief(NamedTuple):
    """A supplier as an operator names it."""

    id: int
    credit_code: str
    name_zh: str


async def supplier_by_credit_code(credit_code: str) -> SupplierBrief:
    """The supplier with this unified social credit code (the catalog's key for suppliers)."""
    row = await (
        Supplier.select(Supplier.id, Supplier.credit_code, Supplier.name_zh)
        .where(Supplier.credit_code == credit_code.strip().upper())
        .first()
    )
    if row is None:
        raise NotFound(f"no supplier with credit code {credit_code!r}", code="supplier_not_found")
    return SupplierBrief(**row)


async def create_supplier_key(supplier_id: int) -> SupplierKeyIssued:
    """A new API key and request-signing secret for a supplier's system."""
    issued = SupplierKeyIssued(
        key_id=f"sk_{secrets.token_hex(8)}", secret=new_token(), signing_secret=new_token()
    )
    async with write_transaction():
        await catalog.require_supplier(supplier_id)
        key = SupplierKey(
            key_id=issued.key_id,
            secret_hash=digest(issued.secret),
            signing_secret=issued.signing_secret,
            supplier=supplier_id,
        )
        await SupplierKey.insert(key)
    return issued


_LISTED = (
    SupplierKey.key_id,
    SupplierKey.supplier._.credit_code.as_alias("supplier_credit_code"),
    SupplierKey.created_at,
    SupplierKey.revoked_at,
)


async def list_supplier_keys(supplier_id: int) -> list[SupplierKeyListed]:
    """The supplier's keys, live and revoked, the oldest first."""
    rows = await (
        SupplierKey.select(*_LISTED)
        .where(SupplierKey.supplier == supplier_id)
        .order_by(SupplierKey.id)
    )
    return [SupplierKeyListed(**row) for row in rows]


async def revoke_supplier_key(key_id: str) -> SupplierKeyListed:
    """Refuse the key from now on; revoking it again changes nothing (its first time stays)."""
    async with write_transaction():
        await SupplierKey.update({SupplierKey.revoked_at: datetime.now(UTC)}).where(
            (SupplierKey.key_id == key_id) & SupplierKey.revoked_at.is_null()
        )
        row = await SupplierKey.select(*_LISTED).where(SupplierKey.key_id == key_id).first()
    if row is None:
        raise NotFound(f"no supplier API key {key_id!r}", code="supplier_key_not_found")
    return SupplierKeyListed(**row)


async def supplier_for_key(api_key: str) -> SupplierActor:
    """The supplier an `X-Api-Key` value (`<key id>.<secret>`) belongs to."""
    key_id, _, secret = api_key.partition(".")
    row = await (
        SupplierKey.select(SupplierKey.secret_hash, SupplierKey.supplier)
        .where((SupplierKey.key_id == key_id) & SupplierKey.revoked_at.is_null())
        .first()
    )
    if row is None or not hmac.compare_digest(digest(secret), row["secret_hash"]):
        raise NotAuthenticated("unknown or revoked API key", code="api_key_invalid")
    return SupplierActor(supplier_id=row["supplier"], key_id=key_id)


async def supplier_signing_secret(key_id: str) -> str:
    """The request-signing secret of a live supplier API key."""
    row = await (
        SupplierKey.select(SupplierKey.signing_secret)
        .where((SupplierKey.key_id == key_id) & SupplierKey.revoked_at.is_null())
        .first()
    )
    if row is None:
        raise NotAuthenticated("unknown or revoked API key", code="api_key_invalid")
    return str(row["signing_secret"])
