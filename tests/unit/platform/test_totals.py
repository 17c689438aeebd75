from __future__ import annotations

from pos.platform.schemas import DailyTotals, Difference
from pos.platform.totals import compare, daily_totals, missing_at_platform
from pos.platform.transactions import reversal_transaction
from tests.unit.platform.sales import share, sold, sold_line


def test_daily_totals_net_reversals_against_sales() -> None:
    sale = sold(sold_line(1, 3000), sold_line(2, 1000, origin_county_code="511321"))
    reversal = reversal_transaction(sale, share(0, 2000), 42)
    assert reversal is not None
    totals = daily_totals([sale, reversal])
    assert totals.transactions == {"XM-0001-S42": 4000, "XM-0001-R42-7": -2000}
    assert totals.products == {"CERT1": 1500, "CERT2": 500}
    assert totals.counties == {"341623": 1500, "511321": 500}
    assert sum(totals.suppliers.values()) == 2000


def _totals(transactions: dict[str, int], products: dict[str, int]) -> DailyTotals:
    return DailyTotals(transactions=transactions, products=products, counties={}, suppliers={})


def test_agreeing_books_have_no_differences() -> None:
    books = _totals({"a": 100}, {"P": 100, "Q": 0})
    assert compare("M", books, _totals({"a": 100}, {"P": 100})) == []


def test_compare_names_each_transaction_and_total_that_differs() -> None:
    local = _totals({"a": 100, "b": 50}, {"P": 150})
    platform = _totals({"a": 100, "c": 7}, {"P": 107})
    differences = compare("M", local, platform)
    assert differences == [
        Difference(merchant_id="M", scope="transaction", key="b", local_fen=50, platform_fen=None),
        Difference(merchant_id="M", scope="transaction", key="c", local_fen=None, platform_fen=7),
        Difference(merchant_id="M", scope="product", key="P", local_fen=150, platform_fen=107),
    ]
    assert missing_at_platform(differences) == ["b"]
