from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pos.payments.provider import NotificationRefused
from pos.payments.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signed,
    sign,
    signed_headers,
)

KEY = b"test-key"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BODY = b'{"out_trade_no": "P1"}'


def _refusal(headers: dict[str, str], body: bytes = BODY, now: datetime = NOW) -> str:
    with pytest.raises(NotificationRefused) as refused:
        check_signed(KEY, headers, body, now)
    return refused.value.code


def test_signed_message_verifies_and_names_its_nonce() -> None:
    headers = signed_headers(KEY, BODY, NOW)
    assert check_signed(KEY, headers, BODY, NOW + timedelta(seconds=30)) == headers[NONCE_HEADER]


def test_signature_covers_timestamp_nonce_and_body_like_wechat_v3() -> None:
    import base64
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"1700000000\nabc\n" + BODY + b"\n", hashlib.sha256).digest()
    assert sign(KEY, "1700000000", "abc", BODY) == base64.b64encode(expected).decode()


def test_each_signing_uses_a_fresh_nonce() -> None:
    assert (
        signed_headers(KEY, BODY, NOW)[NONCE_HEADER] != signed_headers(KEY, BODY, NOW)[NONCE_HEADER]
    )


def test_changed_body_is_forged() -> None:
    assert _refusal(signed_headers(KEY, BODY, NOW), body=b'{"out_trade_no": "P2"}') == (
        "notification_forged"
    )


def test_other_key_is_forged() -> None:
    assert _refusal(signed_headers(b"other", BODY, NOW)) == "notification_forged"


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TIMESTAMP_HEADER, NONCE_HEADER])
def test_missing_header_is_unsigned(missing: str) -> None:
    headers = signed_headers(KEY, BODY, NOW)
    del headers[missing]
    assert _refusal(headers) == "notification_unsigned"


def test_timestamp_that_is_not_a_number_is_refused() -> None:
    headers = {
        TIMESTAMP_HEADER: "soon",
        NONCE_HEADER: "n",
        SIGNATURE_HEADER: sign(KEY, "soon", "n", BODY),
    }
    assert _refusal(headers) == "notification_unsigned"


@pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(minutes=6)])
def test_more_than_five_minutes_off_is_stale(skew: timedelta) -> None:
    assert _refusal(signed_headers(KEY, BODY, NOW + skew)) == "notification_stale"


def test_five_minutes_off_is_still_fresh() -> None:
    check_signed(KEY, signed_headers(KEY, BODY, NOW - timedelta(minutes=5)), BODY, NOW)
