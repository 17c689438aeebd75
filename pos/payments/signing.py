"""Signed notifications in WeChat Pay API v3's message format, with an HMAC key.

WeChat signs `timestamp\\nnonce\\nbody\\n` and sends the parts in the Wechatpay-Timestamp,
Wechatpay-Nonce and Wechatpay-Signature headers (RSA over SHA-256 there, HMAC-SHA256 here). It
asks receivers to refuse a timestamp more than five minutes off, and a nonce seen before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pos.payments.provider import NotificationRefused

__all__ = [
    "MAX_SKEW",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "check_fresh",
    "check_signed",
    "sign",
    "signed_headers",
    "unix_time",
]

SIGNATURE_HEADER = "sandbox-signature"
TIMESTAMP_HEADER = "sandbox-timestamp"
NONCE_HEADER = "sandbox-nonce"
MAX_SKEW = timedelta(minutes=5)


def sign(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of `timestamp\\nnonce\\nbody\\n`."""
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signed_headers(key: bytes, body: bytes, now: datetime) -> dict[str, str]:
    """The headers a notification of `body` sent at `now` carries."""
    timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(key, timestamp, nonce, body),
    }


def unix_time(timestamp: str) -> datetime:
    """The moment a Unix `timestamp` header names; `NotificationRefused` if it names none."""
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise NotificationRefused(
            "the timestamp is not a Unix time", code="notification_unsigned"
        ) from None


def check_signed(key: bytes, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """The nonce of a correctly signed, fresh message; `NotificationRefused` otherwise."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    nonce = headers.get(NONCE_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (timestamp and nonce and signature):
        raise NotificationRefused("the notification is not signed", code="notification_unsigned")
    # As bytes: compare_digest refuses str with non-ASCII characters by raising.
    if not hmac.compare_digest(sign(key, timestamp, nonce, body).encode(), signature.encode()):
        raise NotificationRefused("the signature does not match", code="notification_forged")
    check_fresh(unix_time(timestamp), now)
    return nonce


def check_fresh(sent_at: datetime, now: datetime) -> None:
    """Refuse a message sent more than MAX_SKEW before or after `now`."""
    if abs(now - sent_at) > MAX_SKEW:
        raise NotificationRefused(
            "the notification is more than 5 minutes off", code="notification_stale"
        )
