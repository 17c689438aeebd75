"""A sale as a receipt document: exact lines and totals, store time, certified marks, the QR URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pos.printing.receipts import (
    ReceiptPlace,
    document_from_json,
    document_to_json,
    payment_label,
    receipt_document,
    receipt_url,
    refund_document,
)
from pos.printing.schemas import PaidOrder, Refund, RefundedOrder
from printers import PrinterProfile, decode, render_receipt
from printers.document import RefundDocument, ReturnedItem

PLACE = ReceiptPlace("消费帮扶专柜 北京西站店", "A口 2号柜", "Asia/Shanghai")


def _line(no: int, **fields: object) -> dict[str, object]:
    line: dict[str, object] = {
        "line_no": no,
        "product_id": 100 + no,
        "name_zh": "利辛蒲公英面条 500g",
        "unit": "piece",
        "quantity": 2,
        "weight_g": None,
        "unit_price_fen": 1250,
        "amount_fen": 2500,
        "discount_fen": 0,
        "total_fen": 2500,
        "certified": True,
        "certificate_no": "CN-PA-3412232021000187",
        "origin_county_code": "341623",
        "origin_county_name": "利辛县",
        "supplier_id": 7,
        "supplier_name": "利辛县蒲公英食品有限公司",
    }
    return line | fields


LINES = [
    _line(1),
    _line(
        2,
        name_zh="南部脆红李",
        unit="kg",
        quantity=None,
        weight_g=1085,
        unit_price_fen=998,
        amount_fen=1083,
        discount_fen=325,
        total_fen=758,
        certificate_no="CN-PA-5113212020001265",
        origin_county_name="南部县",
    ),
    _line(
        3,
        name_zh="矿泉水 550ml",
        quantity=3,
        unit_price_fen=200,
        amount_fen=600,
        total_fen=600,
        certified=False,
        certificate_no="",
        origin_county_name="某县",
    ),
    _line(4, name_zh="利辛粉丝", certificate_no="CN-PA-3412232021000999"),
]
# A payload as orders writes it: the order API's view plus the payment's facts.
PAYLOAD: dict[str, object] = {
    "id": 42,
    "order_id": 42,
    "number": "241001000042",
    "store_id": 1,
    "counter_id": 3,
    "device_id": None,
    "state": "paid",
    "subtotal_fen": 6683,
    "discount_fen": 325,
    "total_fen": 6358,
    "refunded_fen": 0,
    "created_at": "2024-10-01T05:59:00+00:00",
    "expires_at": "2024-10-01T06:04:00+00:00",
    "paid_at": "2024-10-01T06:00:05+00:00",
    "payment_method": "wechat_qr",
    "payment_reference": "4200002024100112345678",
    "payer_hash": None,
    "lines": LINES,
}


def paid_order() -> PaidOrder:
    return PaidOrder.model_validate(PAYLOAD)


def test_lines_and_totals_are_the_sale_exactly() -> None:
    document = receipt_document(paid_order(), PLACE, "https://pos.example.cn/r/42?token=t")
    assert [line.name for line in document.lines] == [
        "利辛蒲公英面条 500g",
        "南部脆红李",
        "矿泉水 550ml",
        "利辛粉丝",
    ]
    assert [line.amount_fen for line in document.lines] == [2500, 1083, 600, 2500]
    assert document.total_fen == 6358
    assert document.discount_fen == 325
    assert document.total_fen + document.discount_fen == sum(
        line.amount_fen for line in document.lines
    )
    assert document.lines[1].weight_g == 1085
    assert document.lines[1].markdown_note == "优惠 -3.25"


def test_only_certified_lines_carry_certificate_and_county() -> None:
    document = receipt_document(paid_order(), PLACE, "u")
    assert [line.certificate_no for line in document.lines] == [
        "CN-PA-3412232021000187",
        "CN-PA-5113212020001265",
        None,
        "CN-PA-3412232021000999",
    ]
    assert document.lines[2].origin_county is None
    assert document.supported_counties == ("利辛县", "南部县")


def test_time_is_printed_in_the_store_zone() -> None:
    document = receipt_document(paid_order(), PLACE, "u")
    assert document.printed_at.utcoffset() == timedelta(hours=8)
    assert document.printed_at.strftime("%H:%M:%S") == "14:00:05"
    assert document.printed_at == datetime(2024, 10, 1, 6, 0, 5, tzinfo=UTC)


def test_lines_print_in_line_number_order() -> None:
    order = paid_order()
    shuffled = order.model_copy(update={"lines": list(reversed(order.lines))})
    names = [line.name for line in receipt_document(shuffled, PLACE, "u").lines]
    assert names[0] == "利辛蒲公英面条 500g"


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("wechat_qr", "微信支付"),
        ("alipay_code", "支付宝"),
        ("sandbox_qr", "演示钱包"),
        ("cash", "cash"),
    ],
)
def test_payment_method_is_named_for_people(method: str, label: str) -> None:
    assert payment_label(method) == label


def test_receipt_url_escapes_the_token() -> None:
    assert receipt_url("https://pos.example.cn/", 42, "a+b/c") == (
        "https://pos.example.cn/r/42?token=a%2Bb%2Fc"
    )


def test_document_survives_the_job_row() -> None:
    document = receipt_document(paid_order(), PLACE, "https://pos.example.cn/r/42?token=t")
    restored = document_from_json(document_to_json(document))
    assert restored == document
    assert restored.printed_at.utcoffset() == timedelta(hours=8)


def test_rendered_receipt_shows_marks_and_qr() -> None:
    url = "https://pos.example.cn/r/42?token=t"
    document = receipt_document(paid_order(), PLACE, url)
    decoded = decode(render_receipt(document, PrinterProfile(paper_mm=80)))
    text = "\n".join(decoded.text_lines)
    assert decoded.qr_payloads == (url,)
    assert "证书号 CN-PA-5113212020001265" in text
    assert "产地 南部县" in text
    assert "本次购买支持了: 利辛县、南部县" in text
    assert "2024-10-01 14:00:05" in text


# An `order_refunded` payload as orders writes it: the noodles and the water come back.
REFUND_PAYLOAD: dict[str, object] = {
    "order_id": 42,
    "store_id": 1,
    "amount_fen": 1850,
    "refunded_fen": 2450,
    "refunded_at": "2024-10-02T01:30:00+00:00",
    "state": "partially_refunded",
    "restock": {"101": 1, "103": 3},
}


def refund_slip() -> RefundDocument:
    order = RefundedOrder.model_validate(PAYLOAD)
    return refund_document(Refund.model_validate(REFUND_PAYLOAD), order, PLACE)


def test_refund_slip_shows_this_refund_the_totals_after_it_and_the_goods_back() -> None:
    document = refund_slip()
    assert (document.store_name, document.counter_name) == (PLACE.store_name, PLACE.counter_name)
    assert document.order_number == "241001000042"
    assert document.refunded_at.strftime("%Y-%m-%d %H:%M:%S %z") == "2024-10-02 09:30:00 +0800"
    assert (document.amount_fen, document.refunded_fen, document.kept_fen) == (1850, 2450, 3908)
    assert document.payment_method == "微信支付"
    assert document.returned == (
        ReturnedItem(name="利辛蒲公英面条 500g", units=1),
        ReturnedItem(name="矿泉水 550ml", units=3),
    )


def test_refund_without_goods_back_lists_none() -> None:
    refund = Refund.model_validate({**REFUND_PAYLOAD, "restock": {}})
    document = refund_document(refund, RefundedOrder.model_validate(PAYLOAD), PLACE)
    assert document.returned == ()


def test_weighed_goods_back_keep_their_unit() -> None:
    refund = Refund.model_validate({**REFUND_PAYLOAD, "restock": {"102": 1085}})
    document = refund_document(refund, RefundedOrder.model_validate(PAYLOAD), PLACE)
    assert document.returned == (ReturnedItem(name="南部脆红李", units=1085, unit="kg"),)


def test_refund_slip_survives_the_job_row() -> None:
    document = refund_slip()
    restored = document_from_json(document_to_json(document))
    assert restored == document
    assert isinstance(restored, RefundDocument)
    assert restored.refunded_at.utcoffset() == timedelta(hours=8)


def test_a_slip_stored_before_units_were_kept_reads_its_goods_back_as_pieces() -> None:
    older = {**document_to_json(refund_slip()), "returned": [{"name": "矿泉水 550ml", "units": 3}]}
    restored = document_from_json(older)
    assert isinstance(restored, RefundDocument)
    assert restored.returned == (ReturnedItem(name="矿泉水 550ml", units=3, unit="piece"),)
