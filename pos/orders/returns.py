"""Goods a refund brings back: how many units of each product an order may still return.

A refund checks its units twice: before the provider moves the money (`check_restock`, counting
those of refunds still in flight), and again under the order's lock as the goods go back on the
shelf (`restock`), so no unit comes back twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pos.errors import InvalidInput
from pos.inventory import service as inventory
from pos.orders import records
from pos.orders.records import sold_units

__all__ = ["check_restock", "restock", "returnable_units"]


async def check_restock(
    order_id: int, restock: Mapping[int, int], *, pending: Mapping[int, int]
) -> None:
    """Refuse returned goods the order did not sell or has had back already; InvalidInput.

    The check before money moves: `pending` are the units of refunds still in flight, which
    come back when they finish. `record_refund` checks again under the order's lock.
    """
    await _check_returnable(await records.order_row(order_id), restock, pending)


async def returnable_units(order_id: int) -> dict[int, int]:
    """Units of each product the order sold that its refunds have not put back on the shelf."""
    row = await records.order_row(order_id)
    return _not_back(await sold_units(order_id), records.restocked(row))


def _not_back(sold: Mapping[int, int], back: Mapping[int, int]) -> dict[int, int]:
    return {product_id: units - back.get(product_id, 0) for product_id, units in sold.items()}


async def _check_returnable(
    row: dict[str, Any], restock: Mapping[int, int], pending: Mapping[int, int]
) -> None:
    """Refuse more units of a product than the order sold less those back or on their way."""
    sold = await sold_units(row["id"])
    not_back = _not_back(sold, records.restocked(row))
    for product_id, units in restock.items():
        left = not_back.get(product_id, 0) - pending.get(product_id, 0)
        if units > left:
            raise InvalidInput(
                f"product {product_id}: {units} units cannot come back, "
                f"{left} of the {sold.get(product_id, 0)} sold on this order can",
                code="restock_more_than_sold",
                product_id=product_id,
                returnable=left,
            )


async def restock(
    row: dict[str, Any],
    units: Mapping[int, int],
    *,
    actor: str,
    why: str,
    returned_at: datetime | None = None,
) -> None:
    """Put returned goods back on the shelf, at most the units the order has not had back.

    `row` is the order's, locked by the caller until its refund is recorded; `returned_at` is
    when the goods came back (None: now).
    """
    await _check_returnable(row, units, {})
    if units:
        await inventory.restock(
            row["store_id"],
            units,
            actor=actor,
            why=why,
            reference=f"order:{row['id']}",
            occurred_at=returned_at,
        )
