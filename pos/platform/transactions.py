"""Certified transactions built from the sale frozen at payment (pure).

Only lines certified at the moment of sale are forwarded; a certificate revoked later changes
nothing, because the sale's lines are never looked up again. A refund is a reversal of exactly
its share of each certified line, as the order recorded it (`pos.orders.refund_shares`: the goods
it paid for, then the rest in proportion): its fen, and its pieces or grams. A refund of
uncertified goods only reverses nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pos.platform.schemas import Sale, SoldLine, TransactionDoc, TransactionLine

__all__ = [
    "LineRefund",
    "Place",
    "RefundShare",
    "reversal_id",
    "reversal_transaction",
    "sale_id",
    "sale_transaction",
]


@dataclass(frozen=True, slots=True)
class Place:
    """Where a sale happened, as the platform knows it."""

    merchant_id: str
    store_code: str
    time_zone: str
    counter_code: str | None


@dataclass(frozen=True, slots=True)
class LineRefund:
    """A sale line's share of one refund: fen, and pieces or grams."""

    line_no: int
    fen: int
    units: int


@dataclass(frozen=True, slots=True)
class RefundShare:
    """One refund of an order: fen refunded before and after it, when, its store-local day, and
    each line's share of it (None: an event written before refunds were recorded per line)."""

    refund_key: str
    before_fen: int
    after_fen: int
    refunded_at: datetime
    business_day: date
    lines: tuple[LineRefund, ...] | None = None


def sale_id(merchant_id: str, order_id: int) -> str:
    """The stable transaction id of an order's sale."""
    return f"{merchant_id}-S{order_id}"


def reversal_id(merchant_id: str, order_id: int, refund_key: str) -> str:
    """The stable transaction id of one refund of an order."""
    return f"{merchant_id}-R{order_id}-{refund_key}"


def sale_transaction(
    sale: Sale, place: Place, supplier_codes: Mapping[int, str]
) -> TransactionDoc | None:
    """The sale's certified transaction, or None when no line was certified at the sale."""
    lines = [_line(line, supplier_codes) for line in sale.lines if line.certified]
    if not lines:
        return None
    return TransactionDoc(
        transaction_id=sale_id(place.merchant_id, sale.order_id),
        kind="sale",
        original_transaction_id=None,
        merchant_id=place.merchant_id,
        store_code=place.store_code,
        counter_code=place.counter_code,
        device_id=sale.device_id,
        order_number=sale.number,
        occurred_at=sale.paid_at,
        business_day=_business_day(sale, place.time_zone),
        payment_reference=sale.payment_reference,
        buyer_region=sale.buyer_region,
        order_total_fen=sale.total_fen,
        amount_fen=sum(line.amount_fen for line in lines),
        lines=lines,
    )


def _business_day(sale: Sale, time_zone: str) -> date:
    """The day frozen with the sale, whatever the store's zone is now.

    Only `order_paid` events already in the outbox when days began to be frozen lack it: for
    those, the payment's date in the store's zone as it is now, as it was always worked out.
    """
    if sale.business_day is not None:
        return sale.business_day
    return sale.paid_at.astimezone(ZoneInfo(time_zone)).date()


def _line(line: SoldLine, supplier_codes: Mapping[int, str]) -> TransactionLine:
    return TransactionLine(
        line_no=line.line_no,
        certificate_no=line.certificate_no,
        product_name=line.name_zh,
        supplier_code=supplier_codes[line.supplier_id],
        supplier_name=line.supplier_name,
        origin_county_code=line.origin_county_code,
        quantity=line.quantity,
        weight_g=line.weight_g,
        amount_fen=line.total_fen,
    )


def reversal_transaction(
    sale: TransactionDoc, share: RefundShare, order_id: int
) -> TransactionDoc | None:
    """The reversal of `sale`'s lines for one refund, or None when it reverses nothing of them.

    A line whose share of this refund is 0 fen may still take back grams or pieces: it is
    reversed all the same.
    """
    if share.lines is None:
        reversed_lines = (_proportional(line, share, sale.order_total_fen) for line in sale.lines)
    else:
        parts = {part.line_no: part for part in share.lines}
        reversed_lines = (_reversed(line, parts.get(line.line_no)) for line in sale.lines)
    lines = [line for line in reversed_lines if line.amount_fen or line.quantity or line.weight_g]
    if not lines:
        return None
    return sale.model_copy(
        update={
            "transaction_id": reversal_id(sale.merchant_id, order_id, share.refund_key),
            "kind": "reversal",
            "original_transaction_id": sale.transaction_id,
            "occurred_at": share.refunded_at,
            "business_day": share.business_day,
            "amount_fen": sum(line.amount_fen for line in lines),
            "lines": lines,
        }
    )


def _reversed(line: TransactionLine, part: LineRefund | None) -> TransactionLine:
    fen, units = (part.fen, part.units) if part is not None else (0, 0)
    return line.model_copy(
        update={
            "amount_fen": fen,
            "quantity": None if line.quantity is None else units,
            "weight_g": None if line.weight_g is None else units,
        }
    )


def _proportional(line: TransactionLine, share: RefundShare, total_fen: int) -> TransactionLine:
    """The line's share of a refund whose event has no line shares (written before they were
    recorded): the refund spread over the lines in proportion to their amounts, on the running
    total, so successive refunds add up to exactly the sale once the whole order is refunded
    (floor(a * after / total) - floor(a * before / total)).
    """

    def part(value: int | None) -> int | None:
        if value is None:
            return None
        if total_fen <= 0:
            return 0
        return value * share.after_fen // total_fen - value * share.before_fen // total_fen

    return line.model_copy(
        update={
            "amount_fen": part(line.amount_fen) or 0,
            "quantity": part(line.quantity),
            "weight_g": part(line.weight_g),
        }
    )
