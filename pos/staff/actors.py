"""Who is calling: a staff user, a kiosk or counter device, or a supplier's system.

Pure values: the role rules here are tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEVICE_KINDS",
    "ROLE_NAMES",
    "DeviceActor",
    "DeviceKind",
    "RoleName",
    "StaffActor",
    "SupplierActor",
    "device_name",
    "staff_name",
]

RoleName = Literal["manager", "restocker", "cashier"]
DeviceKind = Literal["kiosk", "counter", "tablet"]
ROLE_NAMES: tuple[RoleName, ...] = ("manager", "restocker", "cashier")


def staff_name(user_id: int) -> str:
    """How records name a staff user as the one who acted: staff:<id>."""
    return f"staff:{user_id}"


def device_name(device_id: int) -> str:
    """How records name a paired device as the one who acted: device:<id>."""
    return f"device:{device_id}"


DEVICE_KINDS: tuple[DeviceKind, ...] = ("kiosk", "counter", "tablet")


@dataclass(frozen=True, slots=True)
class StaffActor:
    """A signed-in staff user; a role at store `None` is a head-office role, valid everywhere."""

    user_id: int
    username: str
    display_name: str
    roles: tuple[tuple[RoleName, int | None], ...]

    @property
    def name(self) -> str:
        """How records name the user as the one who acted: staff:<id>."""
        return staff_name(self.user_id)

    def has_role(self, roles: Iterable[str], store_id: int | None) -> bool:
        """Whether the user holds one of `roles` at `store_id` (or at head office)."""
        wanted = set(roles)
        return any(role in wanted and held_at in (None, store_id) for role, held_at in self.roles)


@dataclass(frozen=True, slots=True)
class DeviceActor:
    """A kiosk, counter or tablet device holding a bearer token."""

    device_id: int
    store_id: int
    counter_id: int | None
    kind: DeviceKind

    @property
    def name(self) -> str:
        """How records name the device as the one who acted: device:<id>, as orders it made."""
        return device_name(self.device_id)


@dataclass(frozen=True, slots=True)
class SupplierActor:
    """A supplier's system calling with one of its API keys."""

    supplier_id: int
    key_id: str
