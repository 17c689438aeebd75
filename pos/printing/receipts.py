"""A sale as a receipt, a refund as a refund slip, for `printers/`: pure functions of data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pos.printing.schemas import PaidLine, PaidOrder, Refund, RefundedOrder
from printers import ReceiptDocument, ReceiptLine, RefundDocument, ReturnedItem, format_fen

__all__ = [
    "ReceiptPlace",
    "document_from_json",
    "document_to_json",
    "payment_label",
    "receipt_document",
    "receipt_url",
    "refund_document",
]

_PROVIDERS = {"wechat": "微信支付", "alipay": "支付宝", "sandbox": "演示钱包"}


@dataclass(frozen=True, slots=True)
class ReceiptPlace:
    """Where the sale happened, as printed: names and the store's time zone."""

    store_name: str
    counter_name: str
    time_zone: str


def receipt_url(public_url: str, order_id: int, token: str) -> str:
    """The shopper's e-receipt and origin page, which the receipt's QR code opens."""
    return f"{public_url.rstrip('/')}/r/{order_id}?token={quote(token, safe='')}"


def payment_label(method: str) -> str:
    """`wechat_qr` -> 微信支付; an unknown method is printed as it is."""
    provider, _, _ = method.partition("_")
    return _PROVIDERS.get(provider, method)


def receipt_document(order: PaidOrder, place: ReceiptPlace, url: str) -> ReceiptDocument:
    """The receipt of `order`: lines and totals exactly as sold, the time in the store's zone."""
    lines = tuple(_line(line) for line in sorted(order.lines, key=lambda line: line.line_no))
    counties = (line.origin_county_name for line in order.lines if line.certified)
    return ReceiptDocument(
        store_name=place.store_name,
        counter_name=place.counter_name,
        printed_at=order.paid_at.astimezone(ZoneInfo(place.time_zone)),
        order_number=order.number,
        lines=lines,
        total_fen=order.total_fen,
        discount_fen=order.discount_fen,
        payment_method=payment_label(order.payment_method),
        payment_reference=order.payment_reference,
        receipt_url=url,
        supported_counties=tuple(dict.fromkeys(county for county in counties if county)),
    )


def _line(line: PaidLine) -> ReceiptLine:
    # The layout's subtotal is total + discount, so lines carry their amount before markdown.
    return ReceiptLine(
        name=line.name_zh,
        quantity=line.quantity,
        weight_g=line.weight_g,
        unit=line.unit,
        unit_price_fen=line.unit_price_fen,
        amount_fen=line.amount_fen,
        certificate_no=line.certificate_no if line.certified else None,
        origin_county=(line.origin_county_name or None) if line.certified else None,
        markdown_note=f"优惠 -{format_fen(line.discount_fen)}" if line.discount_fen else None,
    )


def refund_document(refund: Refund, order: RefundedOrder, place: ReceiptPlace) -> RefundDocument:
    """The refund slip: this refund, the totals after it, the goods it pays back named as sold
    (whether they go back on the shelf or not)."""
    sold = {line.product_id: line for line in order.lines}
    goods = refund.restock if refund.returned is None else refund.returned
    returned = (
        ReturnedItem(name=sold[id_].name_zh, units=units, unit=sold[id_].unit)
        for id_, units in goods.items()
    )
    return RefundDocument(
        store_name=place.store_name,
        counter_name=place.counter_name,
        refunded_at=refund.refunded_at.astimezone(ZoneInfo(place.time_zone)),
        order_number=order.number,
        amount_fen=refund.amount_fen,
        refunded_fen=refund.refunded_fen,
        total_fen=order.total_fen,
        payment_method=payment_label(order.payment_method),
        returned=tuple(returned),
    )


def document_to_json(document: ReceiptDocument | RefundDocument) -> dict[str, Any]:
    """The document as JSON for the job row (times as ISO 8601 with their offset)."""
    data = asdict(document)
    if isinstance(document, RefundDocument):
        data["refunded_at"] = document.refunded_at.isoformat()
    else:
        data["printed_at"] = document.printed_at.isoformat()
    return data


def document_from_json(data: dict[str, Any]) -> ReceiptDocument | RefundDocument:
    """The document a job row holds: a refund slip has a refund time, a receipt a print time."""
    if "refunded_at" in data:
        returned = tuple(ReturnedItem(**item) for item in data["returned"])
        refunded_at = datetime.fromisoformat(data["refunded_at"])
        return RefundDocument(**{**data, "refunded_at": refunded_at, "returned": returned})
    lines = tuple(ReceiptLine(**line) for line in data["lines"])
    return ReceiptDocument(
        **{
            **data,
            "printed_at": datetime.fromisoformat(data["printed_at"]),
            "lines": lines,
            "supported_counties": tuple(data["supported_counties"]),
        }
    )
