from __future__ import annotations

import pytest
from pydantic import ValidationError

from pos.inputs import Input


class _Body(Input):
    quantity: int
    weight_g: int | None = None
    ids: list[int] = []
    confirmed: bool = False
    note: str | None = None


@pytest.mark.parametrize(
    ("field", "value"), [("quantity", True), ("weight_g", False), ("ids", [1, True])]
)
def test_a_boolean_for_a_number_is_refused_also_in_lax_mode(field: str, value: object) -> None:
    body = {"quantity": 1, field: value}
    with pytest.raises(ValidationError, match="must be a number, not true or false"):
        _Body.model_validate(body, strict=False)  # as Litestar validates bodies


def test_booleans_where_declared_and_numbers_still_pass() -> None:
    body = _Body.model_validate({"quantity": 2, "weight_g": 350, "ids": [1], "confirmed": True})
    assert (body.quantity, body.weight_g, body.ids, body.confirmed) == (2, 350, [1], True)


class _Line(Input):
    quantity: int
    gift: bool = False


class _Order(Input):
    lines: list[_Line]
    back: dict[str, int] = {}
    flags: dict[str, bool] = {}


def test_a_boolean_in_a_mapping_of_numbers_is_refused_but_nested_models_keep_theirs() -> None:
    with pytest.raises(ValidationError, match="must be a number, not true or false"):
        _Order.model_validate({"lines": [], "back": {"5": True}}, strict=False)
    order = _Order.model_validate(
        {"lines": [{"quantity": 1, "gift": True}], "flags": {"x": True}}, strict=False
    )
    assert (order.lines[0].gift, order.flags) == (True, {"x": True})
