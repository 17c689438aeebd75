"""Restock orders on the staff tablet: order the low-stock suggestions, follow and end orders.

Stock staff see the store's open orders; only a manager orders, cancels or closes one short, as
in the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pos.catalog import service as catalog
from pos.errors import InvalidInput
from pos.inventory import replenishment
from pos.inventory.schemas import RestockLineIn, RestockOrderIn, RestockOrderOut, RestockStatus
from pos.pages.forms import whole_number
from pos.pages.tablet import STOCK_ROLES, require, store_of
from pos.staff.actors import RoleName, StaffActor

__all__ = ["OpenRestockOrder", "end_order", "open_orders", "order_suggestions"]

MANAGER: tuple[RoleName, ...] = ("manager",)
_OPEN: tuple[RestockStatus, ...] = ("placed", "shipped", "partially_received")
_QUANTITY_FIELD = "product_"


@dataclass(frozen=True, slots=True)
class OpenRestockOrder:
    """An order still to come, with its products' names."""

    order: RestockOrderOut
    names: dict[int, str]

    @property
    def cancellable(self) -> bool:
        """Whether a manager may still cancel it: no notice has shipped it."""
        return self.order.status == "placed"


async def open_orders(actor: StaffActor, store_id: int) -> list[OpenRestockOrder]:
    """The store's orders not yet received, cancelled or closed; newest first."""
    require(actor, STOCK_ROLES, store_id)
    orders = await replenishment.restock_orders(store_id=store_id, statuses=_OPEN)
    ids = sorted({line.product_id for order in orders for line in order.lines})
    products = await asyncio.gather(*(catalog.get_product(i) for i in ids))
    names = {product.id: product.name_zh for product in products}
    return [
        OpenRestockOrder(order, {line.product_id: names[line.product_id] for line in order.lines})
        for order in orders
    ]


async def order_suggestions(
    actor: StaffActor, store_id: int, form: Mapping[str, str]
) -> list[RestockOrderOut]:
    """Order the quantities typed beside the low-stock alerts (`product_<id>` fields).

    A field left empty or 0 orders none of that product. The form's `key` makes a repeated post
    answer with the first orders.
    """
    await store_of(actor, store_id, MANAGER)  # it must exist: the order refers to it
    lines = [
        RestockLineIn(product_id=whole_number(name.removeprefix(_QUANTITY_FIELD)), quantity=units)
        for name, value in form.items()
        if name.startswith(_QUANTITY_FIELD) and (units := whole_number(value.strip() or "0"))
    ]
    if not lines:
        raise InvalidInput("enter a quantity for at least one product", code="restock_empty")
    return await replenishment.place_orders(
        store_id,
        RestockOrderIn(lines=lines),
        actor=actor.name,
        idempotency_key=form.get("key") or None,
    )


async def end_order(
    actor: StaffActor, store_id: int, order_id: int, how: Literal["cancel", "close"]
) -> RestockOrderOut:
    """Cancel a placed order, or close a shipped one short."""
    require(actor, MANAGER, store_id)
    end = replenishment.cancel_order if how == "cancel" else replenishment.close_order
    return await end(store_id, order_id, actor=actor.name)
