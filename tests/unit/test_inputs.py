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
