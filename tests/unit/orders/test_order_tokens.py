from __future__ import annotations

import pytest

from pos.errors import Forbidden
from pos.orders.tokens import (
    counter_qr_token,
    order_access_token,
    token_digest,
    token_matches,
    verify_counter_token,
)

SECRET = "x" * 40


def test_a_counter_accepts_its_own_qr_token() -> None:
    verify_counter_token(7, counter_qr_token(7, secret=SECRET), secret=SECRET)


@pytest.mark.parametrize(
    "token",
    [
        counter_qr_token(8, secret=SECRET),  # swapped: another counter's code
        counter_qr_token(7, secret="y" * 40),  # forged: signed with another key
        "",
        "not-a-token",
    ],
)
def test_a_swapped_or_forged_qr_token_is_refused(token: str) -> None:
    with pytest.raises(Forbidden) as refused:
        verify_counter_token(7, token, secret=SECRET)
    assert refused.value.code == "counter_token_invalid"


def test_access_tokens_are_32_bytes_urlsafe_and_stored_only_as_a_digest() -> None:
    token = order_access_token("counter:1:abc", secret=SECRET)
    assert len(token) == 43
    assert token.replace("-", "").replace("_", "").isalnum()
    digest = token_digest(token)
    assert token not in digest
    assert token_matches(token, digest)
    assert not token_matches(order_access_token("counter:1:abd", secret=SECRET), digest)


def test_a_retry_derives_the_same_access_token() -> None:
    first = order_access_token("device:2:key", secret=SECRET)
    assert order_access_token("device:2:key", secret=SECRET) == first
