from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pos.errors import Unavailable
from pos.payments.provider import ChargeResult, QueryResult, failure_reason, is_payment_code
from pos.payments.settle import payer_hash


@pytest.mark.parametrize(
    "code",
    [
        "134567890123456789",  # WeChat: 18 digits, 10-15
        "101234567890123456",
        "151234567890123456",
        "2812345678901234",  # Alipay: 16-24 digits, 25-30
        "301234567890123456789012",
    ],
)
def test_wechat_and_alipay_payment_codes_are_recognised(code: str) -> None:
    assert is_payment_code(code)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "161234567890123456",  # WeChat range ends at 15
        "13456789012345678",  # 17 digits
        "1345678901234567890",  # 19 digits
        "24123456789012345",  # Alipay starts at 25
        "13456789012345678x",
        "6901234567892",  # a product barcode
        "301234567890123456789012\n",  # as a scanner that ends with Enter sends it
    ],
)
def test_other_strings_are_not_payment_codes(code: str) -> None:
    assert not is_payment_code(code)


def test_charge_answers_map_onto_query_answers() -> None:
    paid_at = datetime(2026, 11, 28, tzinfo=UTC)
    paid = ChargeResult("paid", 990, "payer", "ref", paid_at).as_query()
    assert paid == QueryResult("paid", 990, "payer", "ref", paid_at)
    assert ChargeResult("user_paying").as_query().status == "pending"
    failed = ChargeResult("failed", reason="NOTENOUGH 用户余额不足").as_query()
    assert failed == QueryResult("failed", reason="NOTENOUGH 用户余额不足")


@pytest.mark.parametrize(
    ("code", "words", "reason"),
    [
        ("NOTENOUGH", "用户余额不足", "NOTENOUGH 用户余额不足"),
        ("ACQ.BUYER_BALANCE_NOT_ENOUGH", "", "ACQ.BUYER_BALANCE_NOT_ENOUGH"),
        ("", "余额不足", "余额不足"),
        (" PAYERROR ", " 支付失败 \n", "PAYERROR 支付失败"),
        ("", "", ""),
    ],
)
def test_a_failure_reason_is_the_providers_code_and_words(
    code: str, words: str, reason: str
) -> None:
    assert failure_reason(code, words) == reason


@pytest.mark.parametrize("amount_fen", [None, 0, -1])
def test_a_paid_answer_without_its_amount_is_a_provider_failure(amount_fen: int | None) -> None:
    with pytest.raises(Unavailable) as query:
        QueryResult("paid", amount_fen, "payer", "ref")
    assert query.value.code == "provider_answer_malformed"
    with pytest.raises(Unavailable) as charge:
        ChargeResult("paid", amount_fen, "payer", "ref")
    assert charge.value.code == "provider_answer_malformed"


def test_a_paid_answer_without_the_providers_number_is_a_provider_failure() -> None:
    with pytest.raises(Unavailable) as query:
        QueryResult("paid", 990, "payer", "")
    assert query.value.code == "provider_answer_malformed"
    with pytest.raises(Unavailable) as charge:
        ChargeResult("paid", 990, "payer", "")
    assert charge.value.code == "provider_answer_malformed"


def test_payer_hash_is_salted_and_stable() -> None:
    first = payer_hash(b"salt", "o-openid-1")
    assert first == payer_hash(b"salt", "o-openid-1")
    assert first != payer_hash(b"pepper", "o-openid-1")
    assert first is not None
    assert "o-openid-1" not in first
    assert payer_hash(b"salt", None) is None
