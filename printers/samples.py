"""Sample receipts and refund slips for test prints, golden files and the benchmark."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from printers.document import ReceiptDocument, ReceiptLine, RefundDocument, ReturnedItem

__all__ = ["sample_receipt", "sample_refund"]

_BEIJING = timezone(timedelta(hours=8), "CST")

_LINES = (
    ReceiptLine(
        name="云南怒江草果 250g",
        quantity=2,
        weight_g=None,
        unit="piece",
        unit_price_fen=2880,
        amount_fen=5760,
        certificate_no="CN-PA-5333232021000187",
        origin_county="云南省福贡县",
    ),
    ReceiptLine(
        name="赣南脐橙",
        quantity=None,
        weight_g=2350,
        unit="kg",
        unit_price_fen=1290,
        amount_fen=3032,
        certificate_no="CN-PA-3607262020004411",
        origin_county="江西省寻乌县",
    ),
    ReceiptLine(
        name="贵州从江香猪腊肉礼盒装 特级 500g×2",
        quantity=1,
        weight_g=None,
        unit="piece",
        unit_price_fen=16800,
        amount_fen=16800,
        certificate_no="CN-PA-5226332019000032",
        origin_county="贵州省从江县",
    ),
    ReceiptLine(
        name="Mineral water 550ml",
        quantity=3,
        weight_g=None,
        unit="piece",
        unit_price_fen=200,
        amount_fen=600,
        certificate_no=None,
        origin_county=None,
    ),
    ReceiptLine(
        name="甘肃定西马铃薯粉条",
        quantity=1,
        weight_g=None,
        unit="piece",
        unit_price_fen=1990,
        amount_fen=1393,
        certificate_no="CN-PA-6211022021000790",
        origin_county="甘肃省安定区",
        markdown_note="临期7折",
    ),
    ReceiptLine(
        name="陕西洛川苹果",
        quantity=None,
        weight_g=1085,
        unit="kg",
        unit_price_fen=998,
        amount_fen=1083,
        certificate_no="CN-PA-6107292020001265",
        origin_county="陕西省洛川县",
    ),
)


def sample_receipt(
    *, reprint: bool = False, discount_fen: int = 500, refunded_fen: int = 0
) -> ReceiptDocument:
    """A realistic six-line receipt with Chinese names, certified items and a discount."""
    subtotal = sum(line.amount_fen for line in _LINES)
    counties = tuple(dict.fromkeys(line.origin_county for line in _LINES if line.origin_county))
    return ReceiptDocument(
        store_name="消费帮扶专柜 北京西站店",
        counter_name="地铁7号线北京西站 A口 2号柜",
        printed_at=datetime(2024, 5, 1, 14, 3, 22, tzinfo=_BEIJING),
        order_number="20240501-0042",
        lines=_LINES,
        total_fen=subtotal - discount_fen,
        discount_fen=discount_fen,
        payment_method="微信支付",
        payment_reference="4200002024050112345678901234",
        receipt_url="https://pos.example.cn/r/20240501-0042?k=8f3a2c",
        supported_counties=counties,
        reprint=reprint,
        refunded_fen=refunded_fen,
    )


def sample_refund() -> RefundDocument:
    """A partial refund of the sample receipt's order: two items back, the rest still paid."""
    return RefundDocument(
        store_name="消费帮扶专柜 北京西站店",
        counter_name="地铁7号线北京西站 A口 2号柜",
        refunded_at=datetime(2024, 5, 2, 9, 15, 4, tzinfo=_BEIJING),
        order_number="20240501-0042",
        amount_fen=17400,
        refunded_fen=17400,
        total_fen=28168,
        payment_method="微信支付",
        returned=(
            ReturnedItem(name="贵州从江香猪腊肉礼盒装 特级 500g×2", units=1),
            ReturnedItem(name="Mineral water 550ml", units=3),
        ),
    )
