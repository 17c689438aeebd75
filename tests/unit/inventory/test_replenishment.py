from __future__ import annotations

import pytest
from pydantic import ValidationError

from pos.inventory.replenishment import receipt_status, suggest
from pos.inventory.schemas import RestockOrderIn


def test_a_suggestion_covers_the_target_or_expected_sales_within_the_supplier_stock() -> None:
    assert suggest(available=2, target_level=10, sold=7, on_order=0, supplier_available=None) == 8
    assert suggest(available=2, target_level=10, sold=70, on_order=0, supplier_available=None) == 28
    assert suggest(available=2, target_level=10, sold=70, on_order=0, supplier_available=5) == 5
    assert suggest(available=20, target_level=10, sold=0, on_order=0, supplier_available=None) == 0


def test_a_suggestion_leaves_out_what_is_on_order() -> None:
    assert suggest(available=2, target_level=10, sold=7, on_order=5, supplier_available=None) == 3
    assert suggest(available=2, target_level=10, sold=7, on_order=9, supplier_available=None) == 0
    assert suggest(available=2, target_level=10, sold=70, on_order=20, supplier_available=5) == 5


def test_an_order_is_received_once_every_line_has_all_its_units() -> None:
    assert receipt_status([(10, 0), (6, 0)]) == "shipped"
    assert receipt_status([(10, 10), (6, 0)]) == "partially_received"
    assert receipt_status([(10, 12), (6, 5)]) == "partially_received"
    assert receipt_status([(10, 10), (6, 7)]) == "received"


def test_a_restock_order_names_each_product_once() -> None:
    lines = [{"product_id": 1, "quantity": 2}, {"product_id": 1, "quantity": 3}]
    with pytest.raises(ValidationError, match="product 1 is on more than one line"):
        RestockOrderIn.model_validate({"lines": lines})
