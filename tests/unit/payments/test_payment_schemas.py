from __future__ import annotations

import pytest
from pydantic import ValidationError

from pos.payments.schemas import RefundRequest, StartPayment


def test_code_payment_needs_the_payer_code() -> None:
    with pytest.raises(ValidationError):
        StartPayment(method="code")
    assert StartPayment(method="code", auth_code="134567890123456789").auth_code


def test_qr_payment_takes_no_payer_code() -> None:
    with pytest.raises(ValidationError):
        StartPayment(method="qr", auth_code="134567890123456789")


def test_refund_amount_and_restock_are_positive() -> None:
    with pytest.raises(ValidationError):
        RefundRequest(amount_fen=0, reason="broken")
    with pytest.raises(ValidationError):
        RefundRequest(amount_fen=100, reason="broken", restock={1: 0})
    assert RefundRequest(amount_fen=100, reason="broken", restock={1: 2}).restock == {1: 2}


def test_the_goods_a_refund_pays_for_are_positive_and_default_to_those_put_back() -> None:
    with pytest.raises(ValidationError):
        RefundRequest(amount_fen=100, reason="spoiled", returned={1: -1})
    assert RefundRequest(amount_fen=100, reason="spoiled", restock={1: 2}).paid_for == {1: 2}
    named = RefundRequest(amount_fen=100, reason="spoiled", restock={1: 1}, returned={1: 2, 3: 5})
    assert named.paid_for == {1: 2, 3: 5}
    assert RefundRequest(amount_fen=100, reason="price match").paid_for == {}


def test_a_refund_reason_is_stripped_and_blank_is_refused() -> None:
    with pytest.raises(ValidationError):
        RefundRequest(amount_fen=100, reason=" \t\n")
    assert RefundRequest(amount_fen=100, reason="  broken ").reason == "broken"
