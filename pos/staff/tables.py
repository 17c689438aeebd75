"""Staff tables: who may do what, and the credentials they hold."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.catalog.tables import Supplier
from pos.stores.tables import Device, Store

__all__ = ["DeviceToken", "Role", "StaffSession", "StaffUser", "SupplierKey"]


class StaffUser(Table):
    id: Serial
    username = Varchar(length=64, unique=True)
    display_name = Varchar(length=128, default="")
    password_hash = Varchar(length=255, help_text="argon2id")
    active = Boolean(default=True)


class Role(Table):
    """A user's role at one store, or at every store when `store` is null (head office)."""

    id: Serial
    user = ForeignKey[StaffUser](references=StaffUser, null=False, index=True)
    store = ForeignKey[Store](references=Store, null=True, index=True)
    role = Varchar(length=10, help_text="manager, restocker or cashier")


class StaffSession(Table):
    id: Serial
    token_hash = Varchar(length=64, unique=True, help_text="sha256 of the cookie value")
    user = ForeignKey[StaffUser](references=StaffUser, null=False, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()


class DeviceToken(Table):
    id: Serial
    token_hash = Varchar(length=64, unique=True, help_text="sha256 of the bearer token")
    device = ForeignKey[Device](references=Device, null=False, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    idempotency_key = Varchar(
        length=160, null=True, default=None, unique=True, help_text="device-scoped retry key"
    )


class SupplierKey(Table):
    id: Serial
    key_id = Varchar(length=32, unique=True, help_text="sent by the supplier in X-Api-Key")
    secret_hash = Varchar(length=64, help_text="sha256 of the secret")
    signing_secret = Varchar(
        length=64, help_text="shared secret for HMAC request signatures (must be readable)"
    )
    supplier = ForeignKey[Supplier](references=Supplier, null=False, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
