from __future__ import annotations

import pytest
from pydantic import SecretStr

from pos.errors import Unavailable
from pos.platform.relay import retry_delay
from pos.platform.signing import (
    TIMESTAMP_HEADER,
    SignatureRefused,
    check_signed,
    merchant_key,
    signed_headers,
)
from pos.settings import Settings, SettingsError, load_settings

KEY = b"merchant-key"
BODY = b'{"transactions":[]}'
NOW = 1_800_000_000


def _check(headers: dict[str, str], body: bytes = BODY, now: int = NOW) -> None:
    check_signed(headers, body, key=KEY, now=now, max_skew_s=300)


def test_a_signed_body_passes() -> None:
    _check(signed_headers(KEY, "M", NOW - 299, BODY))


def test_a_changed_body_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="bad signature"):
        _check(signed_headers(KEY, "M", NOW, BODY), body=BODY + b" ")


def test_another_merchants_key_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="bad signature"):
        _check(signed_headers(b"other-key", "M", NOW, BODY))


def test_a_timestamp_too_far_off_is_refused_even_when_signed() -> None:
    with pytest.raises(SignatureRefused, match="more than 300 s"):
        _check(signed_headers(KEY, "M", NOW + 301, BODY))
    with pytest.raises(SignatureRefused, match="no timestamp"):
        _check({})


def test_a_timestamp_not_of_a_few_ascii_digits_is_refused() -> None:
    signed = signed_headers(KEY, "M", NOW, BODY)
    for stamp in ["\u00b2", "\u0661\u0668", "9" * 5000, f" {NOW}", "-1"]:
        with pytest.raises(SignatureRefused, match="no timestamp"):
            _check({**signed, TIMESTAMP_HEADER: stamp})


def test_each_merchant_may_have_its_own_key() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        platform_key=SecretStr("shared"),
        platform_merchant_keys={"XM-1": SecretStr("own")},
    )
    assert merchant_key(settings, "XM-1") == b"own"
    assert merchant_key(settings, "XM-2") == b"shared"


def test_retry_delays_double_with_jitter_up_to_the_longest() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        platform_retry_first_s=2,
        platform_retry_longest_s=60,
    )
    for attempts, full in ((1, 2), (2, 4), (3, 8), (10, 60)):
        seconds = retry_delay(attempts, settings).total_seconds()
        assert full * 0.5 <= seconds <= full


def test_the_real_platform_refuses_at_start_a_key_left_empty() -> None:
    real = "https://platform.example.cn"
    with pytest.raises(SettingsError, match="set POS_PLATFORM_KEY"):
        load_settings(_env_file=None, platform_url=real, platform_key="")
    with pytest.raises(SettingsError, match=r"POS_PLATFORM_MERCHANT_KEYS: an empty key for XM-2$"):
        load_settings(
            _env_file=None, platform_url=real, platform_merchant_keys={"XM-1": "k", "XM-2": ""}
        )


def test_the_real_platform_never_gets_the_demo_key_for_a_merchant_without_its_own() -> None:
    settings = load_settings(
        _env_file=None,
        platform_url="https://platform.example.cn",
        platform_merchant_keys={"XM-1": "own"},
    )
    assert merchant_key(settings, "XM-1") == b"own"
    with pytest.raises(Unavailable, match=r"add XM-2 to POS_PLATFORM_MERCHANT_KEYS") as refused:
        merchant_key(settings, "XM-2")
    assert refused.value.code == "platform_key_missing"


def test_the_default_key_signs_for_merchants_without_their_own_when_it_is_not_the_demo_s() -> None:
    real = {"_env_file": None, "platform_url": "https://platform.example.cn"}
    settings = load_settings(**real, platform_key="shared", platform_merchant_keys={"XM-1": "own"})
    assert merchant_key(settings, "XM-2") == b"shared"
    double = load_settings(_env_file=None, platform_url="http://127.0.0.1:8100")
    assert merchant_key(double, "XM-2") == b"demo-platform-key"
