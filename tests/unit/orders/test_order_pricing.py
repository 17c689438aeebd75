"""Order pricing: server prices, validation, merging and totals, all in integer fen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.catalog.barcodes import ScannedVariable
from pos.errors import InvalidInput
from pos.inventory.service import Markdown
from pos.orders.pricing import (
    MAX_LINES,
    MAX_TOTAL_FEN,
    LineRequest,
    PricedOrder,
    PricedProduct,
    apply_markdowns,
    line_for_label,
    price_order,
)

NOODLES = PricedProduct(1, "蒲公英面", "piece", 1290, True, "FP-001", "341623", "利辛县")
ORANGES = PricedProduct(2, "南部脆红李", "kg", 1999, True, "FP-002", "511321", "南部县")
SHOOTS = PricedProduct(3, "南川方竹笋", "kg", 3600, False, "FP-003", "500119", "南川区")
PRODUCTS = {p.id: p for p in (NOODLES, ORANGES, SHOOTS)}
SHOOTS_MARKED_DOWN = {SHOOTS.id: [Markdown(30, 1000)]}  # 1000 g of them 30 % off


def refused(requests: list[LineRequest]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        price_order(requests, PRODUCTS)
    return caught.value


def test_piece_line_is_price_times_quantity() -> None:
    (line,) = price_order([LineRequest(1, quantity=3)], PRODUCTS).lines
    assert (line.unit_price_fen, line.quantity, line.weight_g) == (1290, 3, None)
    assert (line.amount_fen, line.discount_fen, line.total_fen) == (3870, 0, 3870)


def test_weighed_line_is_rounded_half_up_once() -> None:
    # 19.99 yuan/kg x 333 g = 665.667 fen
    (line,) = price_order([LineRequest(2, weight_g=333)], PRODUCTS).lines
    assert (line.quantity, line.weight_g, line.amount_fen) == (None, 333, 666)


def marked_down(*requests: LineRequest) -> PricedOrder:
    return apply_markdowns(price_order(requests, PRODUCTS), SHOOTS_MARKED_DOWN)


def test_markdown_is_a_discount_on_the_line() -> None:
    # 36 yuan/kg x 415 g = 1494 fen; 30% of it is 448.2 fen
    order = marked_down(LineRequest(3, weight_g=415))
    assert (order.lines[0].amount_fen, order.lines[0].discount_fen) == (1494, 448)
    assert (order.subtotal_fen, order.discount_fen, order.total_fen) == (1494, 448, 1046)


def test_a_price_label_is_the_amount_and_weighs_what_it_buys_at_the_list_price() -> None:
    # 12.34 yuan at 19.99 yuan/kg buys 617.3 g: rounded up, so stock is never held short.
    (line,) = price_order([LineRequest(2, label_price_fen=1234)], PRODUCTS).lines
    assert (line.amount_fen, line.weight_g, line.label_priced) == (1234, 618, True)


def test_the_markdown_applies_to_a_price_label_too() -> None:
    (line,) = marked_down(LineRequest(3, label_price_fen=1000)).lines
    assert (line.amount_fen, line.discount_fen) == (1000, 300)


def test_a_markdown_covers_only_its_units() -> None:
    # 1 of the 10 pieces comes from the near-expiry batch: 30% of 1290 fen is 387 fen
    product = PricedProduct(7, "豆腐乳", "piece", 1290, True, "FP-007", "341623", "利辛县")
    order = price_order([LineRequest(7, quantity=10)], {7: product})
    (line,) = apply_markdowns(order, {7: [Markdown(30, 1)]}).lines
    assert (line.amount_fen, line.discount_fen) == (12900, 387)


def test_each_marked_down_batch_gives_its_units_its_own_percent() -> None:
    # 2 pieces 50 % off (1290 fen), then 2 pieces 20 % off (516 fen)
    order = price_order([LineRequest(1, quantity=4)], PRODUCTS)
    (line,) = apply_markdowns(order, {1: [Markdown(50, 2), Markdown(20, 5)]}).lines
    assert (line.amount_fen, line.discount_fen) == (5160, 1806)


def test_a_line_after_another_takes_the_rest_of_a_batch_then_the_next_one() -> None:
    # 36 yuan/kg: the 200 g bag 50 % off (720 fen); the 500 g bag: 100 g 50 % off (360 fen),
    # 400 g 20 % off (1440 fen); 360 + 180 + 288 fen
    order = price_order([LineRequest(3, weight_g=200), LineRequest(3, weight_g=500)], PRODUCTS)
    marked = apply_markdowns(order, {3: [Markdown(50, 300), Markdown(20, 1000)]})
    assert [line.discount_fen for line in marked.lines] == [360, 468]
    assert (marked.subtotal_fen, marked.discount_fen, marked.total_fen) == (2520, 828, 1692)


def test_lines_of_a_product_share_its_marked_down_units_in_line_order() -> None:
    # 1000 g marked down: all 600 g of the first bag, 400 g of the second (1440 fen), none after
    order = marked_down(
        LineRequest(3, weight_g=600), LineRequest(3, weight_g=700), LineRequest(3, weight_g=50)
    )
    assert [line.amount_fen for line in order.lines] == [2160, 2520, 180]
    assert [line.discount_fen for line in order.lines] == [648, 432, 0]


def test_a_price_label_is_marked_down_for_the_grams_it_buys_at_the_list_price() -> None:
    # 4500 fen buys 1250 g at 36 yuan/kg; 1000 g of them (3600 fen) are marked down 30%
    (line,) = marked_down(LineRequest(3, label_price_fen=4500)).lines
    assert (line.amount_fen, line.discount_fen) == (4500, 1080)


def test_a_weight_label_becomes_a_weighed_line() -> None:
    scanned = ScannedVariable("2100002004561", "00002", weight_g=456, price_fen=None)
    assert line_for_label(2, scanned) == LineRequest(2, weight_g=456)


def test_a_price_label_becomes_a_label_priced_line() -> None:
    scanned = ScannedVariable("2200002012802", "00002", weight_g=None, price_fen=1280)
    assert line_for_label(2, scanned) == LineRequest(
        2, label_price_fen=1280, price_label=scanned.code
    )


def test_the_sale_keeps_the_products_certification_and_origin() -> None:
    (line,) = price_order([LineRequest(1, quantity=1)], PRODUCTS).lines
    assert line.product is NOODLES
    assert (line.product.certified, line.product.certificate_no) == (True, "FP-001")
    assert line.product.origin_county_code == "341623"


def test_piece_lines_for_one_product_merge_in_the_first_lines_place() -> None:
    order = price_order(
        [LineRequest(1, quantity=2), LineRequest(2, weight_g=500), LineRequest(1, quantity=3)],
        PRODUCTS,
    )
    assert [(line.product.id, line.quantity) for line in order.lines] == [(1, 5), (2, None)]
    assert order.lines[0].amount_fen == 5 * 1290


def test_weighed_lines_for_one_product_stay_apart() -> None:
    order = price_order([LineRequest(2, weight_g=500), LineRequest(2, weight_g=700)], PRODUCTS)
    assert [line.weight_g for line in order.lines] == [500, 700]


def test_merged_quantity_over_the_limit_names_the_line_that_passed_it() -> None:
    error = refused([LineRequest(1, quantity=600), LineRequest(1, quantity=400)])
    assert (error.code, error.extra) == ("line_quantity", {"line": 2})
    assert "1000" in error.detail


def test_an_empty_order_is_refused() -> None:
    assert refused([]).code == "order_empty"


def test_more_than_the_line_limit_is_refused() -> None:
    assert refused([LineRequest(2, weight_g=100)] * (MAX_LINES + 1)).code == "order_too_many_lines"


def test_the_line_limit_itself_is_allowed() -> None:
    order = price_order([LineRequest(2, weight_g=100)] * MAX_LINES, PRODUCTS)
    assert len(order.lines) == MAX_LINES


def test_an_order_past_what_its_amount_columns_hold_is_refused() -> None:
    gold = PricedProduct(9, "金条", "piece", 100_000_00, False, "", "", "")  # 100,000 yuan
    products = {gold.id: gold, NOODLES.id: NOODLES}
    most = MAX_TOTAL_FEN // gold.price_fen
    assert price_order([LineRequest(9, quantity=most)], products).total_fen <= MAX_TOTAL_FEN
    with pytest.raises(InvalidInput) as caught:
        price_order([LineRequest(9, quantity=most), LineRequest(9, quantity=1)], products)
    assert caught.value.code == "order_total_too_large"


@pytest.mark.parametrize(
    "request_",
    [
        LineRequest(1, weight_g=500),
        LineRequest(1, quantity=1, weight_g=500),
        LineRequest(1, quantity=1, label_price_fen=100),
        LineRequest(2, quantity=1),
        LineRequest(2, quantity=1, weight_g=500),
        LineRequest(2, weight_g=500, label_price_fen=100),
        LineRequest(2),
    ],
)
def test_a_line_that_does_not_fit_the_products_unit_is_a_mismatch(request_: LineRequest) -> None:
    error = refused([LineRequest(1, quantity=1), request_])
    assert (error.code, error.extra) == ("line_unit_mismatch", {"line": 2})


@pytest.mark.parametrize("quantity", [None, 0, -1, 1000])
def test_a_piece_quantity_outside_1_to_999_is_refused(quantity: int | None) -> None:
    assert refused([LineRequest(1, quantity=quantity)]).code == "line_quantity"


@pytest.mark.parametrize("quantity", [1, 999])
def test_piece_quantities_at_the_limits_are_priced(quantity: int) -> None:
    assert price_order([LineRequest(1, quantity=quantity)], PRODUCTS).total_fen == 1290 * quantity


@pytest.mark.parametrize("weight_g", [0, -5, 50_001])
def test_a_weight_outside_1_g_to_50_kg_is_refused(weight_g: int) -> None:
    assert refused([LineRequest(2, weight_g=weight_g)]).code == "line_weight"


@pytest.mark.parametrize("weight_g", [1, 50_000])
def test_weights_at_the_limits_are_priced(weight_g: int) -> None:
    assert price_order([LineRequest(2, weight_g=weight_g)], PRODUCTS).lines[0].weight_g == weight_g


@pytest.mark.parametrize("label_price_fen", [0, -100, 1999 * 50 + 1])
def test_a_label_price_outside_what_50_kg_cost_is_refused(label_price_fen: int) -> None:
    assert refused([LineRequest(2, label_price_fen=label_price_fen)]).code == "line_label_price"


def test_a_product_not_loaded_for_this_counter_is_refused() -> None:
    error = refused([LineRequest(1, quantity=1), LineRequest(99, quantity=1)])
    assert (error.code, error.extra) == ("product_unknown", {"line": 2})
    assert "product 99" in error.detail


def test_a_product_with_a_negative_price_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="out of range"):
        PricedProduct(9, "x", "piece", -1, False, "C", "000000", "x")


def products() -> st.SearchStrategy[PricedProduct]:
    return st.builds(
        PricedProduct,
        id=st.integers(min_value=1, max_value=5),
        name_zh=st.just("产品"),
        unit=st.sampled_from(["piece", "kg"]),
        price_fen=st.integers(min_value=0, max_value=1_000_000),
        certified=st.booleans(),
        certificate_no=st.just("C"),
        origin_county_code=st.just("000000"),
        origin_county_name=st.just("县"),
    )


def markdowns() -> st.SearchStrategy[list[Markdown]]:
    return st.lists(
        st.builds(
            Markdown,
            percent=st.integers(min_value=0, max_value=100),
            units=st.integers(min_value=0, max_value=100_000),
        ),
        max_size=3,
    )


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[LineRequest], dict[int, PricedProduct]]:
    catalog = {p.id: p for p in draw(st.lists(products(), min_size=1, max_size=5))}
    requests = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        product = catalog[draw(st.sampled_from(sorted(catalog)))]
        if product.unit == "piece":
            requests.append(LineRequest(product.id, quantity=draw(st.integers(1, 40))))
        elif product.price_fen and draw(st.booleans()):
            most = product.price_fen * 50  # what 50 kg cost
            requests.append(LineRequest(product.id, label_price_fen=draw(st.integers(1, most))))
        else:
            requests.append(LineRequest(product.id, weight_g=draw(st.integers(1, 50_000))))
    return requests, catalog


@given(orders(), st.dictionaries(st.integers(min_value=1, max_value=5), markdowns()))
def test_the_total_is_the_sum_of_line_amounts_minus_discounts(
    order: tuple[list[LineRequest], dict[int, PricedProduct]],
    marked: dict[int, list[Markdown]],
) -> None:
    priced = apply_markdowns(price_order(*order), marked)
    assert priced.subtotal_fen == sum(line.amount_fen for line in priced.lines)
    assert priced.discount_fen == sum(line.discount_fen for line in priced.lines)
    assert priced.total_fen == priced.subtotal_fen - priced.discount_fen
    assert priced.total_fen == sum(line.total_fen for line in priced.lines)
    assert all(0 <= line.discount_fen <= line.amount_fen for line in priced.lines)


@given(orders())
def test_merging_never_changes_what_the_pieces_cost(
    order: tuple[list[LineRequest], dict[int, PricedProduct]],
) -> None:
    requests, catalog = order
    pieces = [r for r in requests if r.quantity is not None]
    priced = price_order(requests, catalog)
    merged = [line for line in priced.lines if line.quantity is not None]
    assert len({line.product.id for line in merged}) == len(merged)
    assert sum(line.amount_fen for line in merged) == sum(
        catalog[r.product_id].price_fen * (r.quantity or 0) for r in pieces
    )
