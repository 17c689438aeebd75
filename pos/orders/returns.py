"""Goods a refund brings back: how many units of each product an order may still return.

A refund checks its units twice: before the provider moves the money (`check_restock` for the
goods put back on the shelf, `check_returned` for those it pays for, counting those of refunds
still in flight), and again under the order's lock as the goods go back on the shelf (`restock`)
and its fen are recorded on the lines (`pos.orders.refund_shares`), so no unit comes back, nor
is paid for, twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pos.errors import InvalidInput
from pos.inventory import service as inventory
from pos.orders import records
from pos.orders.records import sold_units
from pos.orders.refund_shares import LineShare, RefundLine, refund_shares

__all__ = [
    "check_restock",
    "check_returned",
    "pay_back",
    "payable_lines",
    "restock",
    "returnable_units",
]


async def check_restock(
    order_id: int, restock: Mapping[int, int], *, pending: Mapping[int, int]
) -> None:
    """Refuse returned goods the order did not sell or has had back already; InvalidInput.

    The check before money moves: `pending` are the units of refunds still in flight, which
    come back when they finish. `record_refund` checks again under the order's lock.
    """
    await _check_returnable(await records.order_row(order_id), restock, pending)


async def check_returned(
    order_id: int,
    restock: Mapping[int, int],
    returned: Mapping[int, int],
    *,
    pending: Mapping[int, int],
) -> None:
    """Refuse goods put back that the refund does not pay for, and goods paid for that the
    order did not sell or has been paid back for already; InvalidInput.

    `pending` are the units refunds still in flight pay for.
    """
    for product_id, units in restock.items():
        if units > returned.get(product_id, 0):
            raise InvalidInput(
                f"product {product_id}: {units} units go back on the shelf, but the refund pays"
                f" for {returned.get(product_id, 0)}",
                code="restock_not_returned",
                product_id=product_id,
                returned=returned.get(product_id, 0),
            )
    refund_shares(await payable_lines(order_id, pending), 0, returned)  # refuses what is not left


async def payable_lines(order_id: int, pending: Mapping[int, int]) -> list[RefundLine]:
    """The order's lines as a new refund finds them: the goods refunds still in flight pay for
    (`pending`) counted as returned already, taken in line order as they will be when those
    finish (their fen are not: how they split over the lines is known only then)."""
    lines = await records.refund_lines(order_id)
    taken = refund_shares(lines, 0, pending)
    return [
        replace(line, returned_units=line.returned_units + share.units)
        for line, share in zip(lines, taken, strict=True)
    ]


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


async def pay_back(order_id: int, amount_fen: int, returned: Mapping[int, int]) -> list[LineShare]:
    """Record a refund of `amount_fen` paying for the `returned` goods on the order's lines;
    the lines' shares of it, those with fen or units only.

    The order is locked by the caller; InvalidInput `returned_more_than_sold` for goods its
    lines have been paid back for already.
    """
    shares = refund_shares(await records.refund_lines(order_id), amount_fen, returned)
    shares = [share for share in shares if share.fen or share.units]
    await records.add_refund_shares(order_id, shares)
    return shares
