from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pos.platform.transactions import (
    LineRefund,
    RefundShare,
    reversal_transaction,
    sale_transaction,
)
from tests.unit.platform.sales import CODES, PAID, PLACE, make_sale, share, sold, sold_line


def test_only_lines_certified_at_the_sale_are_forwarded() -> None:
    doc = sold(
        sold_line(1, 2500), sold_line(2, 600, certified=False), sold_line(3, 1085, weight_g=1085)
    )
    assert [line.certificate_no for line in doc.lines] == ["CERT1", "CERT3"]
    assert doc.amount_fen == 3585
    assert doc.order_total_fen == 4185
    assert doc.transaction_id == "XM-0001-S42"
    assert doc.lines[0].supplier_code == CODES[1]
    assert (doc.merchant_id, doc.store_code, doc.counter_code) == ("XM-0001", "S001", "C01")
    assert doc.payment_reference == "4200000042"


def test_the_business_day_is_the_one_frozen_with_the_sale_not_the_stores_zone_now() -> None:
    # Paid at 23:30 on the 28th in Xinjiang time, the store's zone then; Shanghai's now.
    sale = make_sale(sold_line(1, 100)).model_copy(update={"business_day": date(2026, 11, 28)})
    doc = sale_transaction(sale, PLACE, CODES)
    assert doc is not None
    assert doc.business_day == date(2026, 11, 28)


def test_an_older_sale_event_without_a_business_day_takes_the_stores_local_day() -> None:
    assert sold(sold_line(1, 100)).business_day == date(2026, 11, 29)


def test_a_sale_without_certified_lines_is_not_forwarded() -> None:
    assert sale_transaction(make_sale(sold_line(1, 100, certified=False)), PLACE, CODES) is None


def test_a_partial_refund_reverses_exactly_the_share_recorded_on_each_certified_line() -> None:
    sale = sold(sold_line(1, 3000), sold_line(2, 1000, certified=False))
    parts = (LineRefund(1, 1500, 1), LineRefund(2, 500, 0))
    reversal = reversal_transaction(sale, share(0, 2000, lines=parts), 42)
    assert reversal is not None
    assert reversal.kind == "reversal"
    assert reversal.transaction_id == "XM-0001-R42-7"
    assert reversal.original_transaction_id == "XM-0001-S42"
    assert [(line.amount_fen, line.quantity) for line in reversal.lines] == [(1500, 1)]
    assert reversal.amount_fen == 1500


def test_a_refund_of_uncertified_goods_only_reverses_nothing() -> None:
    sale = sold(sold_line(1, 3000), sold_line(2, 1000, certified=False))
    assert reversal_transaction(sale, share(0, 500, lines=(LineRefund(2, 500, 1),)), 42) is None


def test_a_weighed_lines_returned_units_are_reversed_as_grams() -> None:
    sale = sold(sold_line(1, 3000, quantity=None, weight_g=1500), sold_line(2, 1000))
    parts = (LineRefund(1, 0, 7), LineRefund(2, 250, 1))
    reversal = reversal_transaction(sale, share(0, 250, lines=parts), 42)
    assert reversal is not None
    assert [
        (line.line_no, line.amount_fen, line.quantity, line.weight_g) for line in reversal.lines
    ] == [
        (1, 0, None, 7),
        (2, 250, 1, None),
    ]
    assert reversal.amount_fen == 250


def test_a_reversal_is_dated_on_its_refunds_frozen_day_not_its_sales() -> None:
    sale = sold(sold_line(1, 3000))
    refund = RefundShare(
        "7", 0, 3000, PAID + timedelta(days=1), date(2026, 11, 30), (LineRefund(1, 3000, 2),)
    )
    reversal = reversal_transaction(sale, refund, 42)
    assert reversal is not None
    assert (reversal.occurred_at, reversal.business_day) == (refund.refunded_at, date(2026, 11, 30))
    assert sale.business_day == date(2026, 11, 29)


def test_an_older_refund_event_too_small_to_reach_a_certified_fen_is_not_forwarded() -> None:
    sale = sold(sold_line(1, 1), sold_line(2, 100_000, certified=False))
    assert reversal_transaction(sale, share(0, 50), 42) is None


def test_an_older_refund_event_without_line_shares_reverses_in_proportion() -> None:
    sale = sold(sold_line(1, 3000), sold_line(2, 1000, certified=False))
    reversal = reversal_transaction(sale, share(0, 2000), 42)
    assert reversal is not None
    assert [(line.amount_fen, line.quantity) for line in reversal.lines] == [(1500, 1)]


@given(
    lines=st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 30_000)), min_size=1, max_size=4),
    cuts=st.lists(st.integers(1, 100), min_size=1, max_size=6),
)
def test_successive_older_refund_events_of_the_whole_order_reverse_exactly_the_sale(
    lines: list[tuple[int, int]], cuts: list[int]
) -> None:
    # Weighed lines: more grams than fen below 10 yuan a kg, so a share may be grams without fen.
    sale = sold(
        *[
            sold_line(n, fen, quantity=None, weight_g=grams)
            for n, (fen, grams) in enumerate(lines, 1)
        ]
    )
    total = sale.order_total_fen
    steps = sorted({total * sum(cuts[: i + 1]) // sum(cuts) for i in range(len(cuts))} | {total})
    reversed_parts: dict[int, tuple[int, int]] = {}
    before = 0
    for n, after in enumerate(steps):
        if after == before:
            continue
        reversal = reversal_transaction(sale, share(before, after, str(n)), 42)
        for line in reversal.lines if reversal else []:
            fen, grams = reversed_parts.get(line.line_no, (0, 0))
            reversed_parts[line.line_no] = (fen + line.amount_fen, grams + (line.weight_g or 0))
        before = after
    assert reversed_parts == {line.line_no: (line.amount_fen, line.weight_g) for line in sale.lines}
