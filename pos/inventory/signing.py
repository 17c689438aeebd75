"""Supplier request signatures: hex HMAC-SHA256 of `<timestamp>\\n<body>` with the key's secret.

The supplier sends `X-Api-Key`, `X-Pos-Timestamp` (Unix seconds) and `X-Pos-Signature`. A time more
than five minutes off is refused, so a captured request cannot be replayed later; replaying it
within the window changes nothing either, because updates are idempotent by their timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pos.errors import NotAuthenticated

__all__ = [
    "MAX_SKEW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "check_signed",
    "sign",
    "signed_headers",
]

SIGNATURE_HEADER = "x-pos-signature"
TIMESTAMP_HEADER = "x-pos-timestamp"
MAX_SKEW = timedelta(minutes=5)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp\\nbody`."""
    message = timestamp.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """The signature headers of `body` sent at `now` (for suppliers' clients and tests)."""
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def check_signed(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    """Pass a correctly signed, fresh request; NotAuthenticated otherwise."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (timestamp and signature):
        raise NotAuthenticated("the request is not signed", code="signature_missing")
    # As bytes: compare_digest refuses str with non-ASCII characters by raising.
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise NotAuthenticated("the signature does not match", code="signature_invalid")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise NotAuthenticated("the timestamp is not a Unix time", code="signature_stale") from None
    if abs(now - sent_at) > MAX_SKEW:
        raise NotAuthenticated("the request is more than 5 minutes off", code="signature_stale")
