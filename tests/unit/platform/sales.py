"""Sales and their certified transactions for the pure platform tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pos.platform.schemas import Sale, SoldLine, TransactionDoc
from pos.platform.transactions import LineRefund, Place, RefundShare, sale_transaction

__all__ = ["CODES", "PAID", "PLACE", "make_sale", "share", "sold", "sold_line"]

PLACE = Place("XM-0001", "S001", "Asia/Shanghai", "C01")
CODES = {1: "91341623MA2N000001", 2: "91511321MA6B000002"}
PAID = datetime(2026, 11, 28, 17, 30, tzinfo=UTC)  # 01:30 on the 29th in Shanghai


def sold_line(line_no: int, total_fen: int, *, certified: bool = True, **more: object) -> SoldLine:
    values: dict[str, object] = {
        "line_no": line_no,
        "product_id": line_no,
        "name_zh": f"商品{line_no}",
        "quantity": 2,
        "weight_g": None,
        "total_fen": total_fen,
        "certified": certified,
        "certificate_no": f"CERT{line_no}",
        "origin_county_code": "341623",
        "supplier_id": 1,
        "supplier_name": "利辛县供应商",
    }
    return SoldLine.model_validate({**values, **more})


def make_sale(*lines: SoldLine) -> Sale:
    return Sale(
        order_id=42,
        number="261129000042",
        store_id=1,
        counter_id=3,
        device_id=None,
        paid_at=PAID,
        total_fen=sum(line.total_fen for line in lines),
        payment_reference="4200000042",
        lines=list(lines),
    )


def sold(*lines: SoldLine) -> TransactionDoc:
    doc = sale_transaction(make_sale(*lines), PLACE, CODES)
    assert doc is not None
    return doc


def share(
    before: int, after: int, key: str = "7", lines: tuple[LineRefund, ...] | None = None
) -> RefundShare:
    """A refund of `after - before` fen; `lines`: its line shares (None: an older event's)."""
    return RefundShare(key, before, after, PAID, date(2026, 11, 29), lines)
