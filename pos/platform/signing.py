"""Request signing between the relay and the platform: HMAC-SHA256 with a per-merchant key.

The signature covers `timestamp\\nbody`, so a captured request cannot be replayed with another
time; the receiver refuses a timestamp too far from its clock, and a replay inside that window
is harmless because the platform dedupes by transaction id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from pos.errors import Unavailable
from pos.settings import Settings

__all__ = [
    "MERCHANT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureRefused",
    "check_signed",
    "merchant_key",
    "sign",
    "signed_headers",
]

MERCHANT_HEADER = "x-platform-merchant"
TIMESTAMP_HEADER = "x-platform-timestamp"
SIGNATURE_HEADER = "x-platform-signature"
# Unix seconds in ASCII digits: str.isdigit() takes "²", and int() refuses 5,000 digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureRefused(Exception):
    """The request's merchant, timestamp or signature is missing or wrong."""


def merchant_key(settings: Settings, merchant_id: str) -> bytes:
    """The merchant's own key, else the default `platform_key`.

    Raises Unavailable (`platform_key_missing`) rather than sign for the real platform with the
    demo's key: anyone could read it, and the platform refuses it for every request.
    """
    key = settings.platform_merchant_keys.get(merchant_id)
    if key is None:
        if settings.platform_is_real and settings.platform_key_is_demo:
            raise Unavailable(
                f"merchant {merchant_id} has no key for the platform and POS_PLATFORM_KEY is"
                f" the demo's: add {merchant_id} to POS_PLATFORM_MERCHANT_KEYS"
                f' (JSON {{"{merchant_id}": "its key"}}) and restart',
                code="platform_key_missing",
            )
        key = settings.platform_key
    return key.get_secret_value().encode()


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp\\nbody`."""
    return hmac.new(key, str(timestamp).encode() + b"\n" + body, hashlib.sha256).hexdigest()


def signed_headers(key: bytes, merchant_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed JSON request."""
    return {
        "content-type": "application/json",
        MERCHANT_HEADER: merchant_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(key, timestamp, body),
    }


def check_signed(
    headers: Mapping[str, str], body: bytes, *, key: bytes, now: int, max_skew_s: int
) -> None:
    """Raise SignatureRefused unless `body` is signed with `key` at a time close to `now`."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureRefused("no timestamp")
    if abs(now - int(stamp)) > max_skew_s:
        raise SignatureRefused(f"timestamp {stamp} is more than {max_skew_s} s from {now}")
    expected = sign(key, int(stamp), body)
    # As bytes: compare_digest refuses str with non-ASCII characters by raising.
    if not hmac.compare_digest(expected.encode(), headers.get(SIGNATURE_HEADER, "").encode()):
        raise SignatureRefused("bad signature")
