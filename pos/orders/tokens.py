"""Order tokens: the signature on a counter's QR code, and a shopper's access token to an order.

A counter's QR code carries HMAC-SHA256(secret, "counter-qr:<counter id>"): a code taken from
another counter, or made up, does not verify for this one.
An order's access token is HMAC-SHA256(secret, "order-access:<idempotency scope key>"): 32 bytes
no one can guess without the secret, and derived rather than random so that a retried create can
hand back the same token while the database keeps only its SHA-256. Whoever repeats the key
and the order gets the token, so the API takes no key shorter than 16 characters.
Checks are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pos.errors import Forbidden

__all__ = [
    "counter_qr_token",
    "order_access_token",
    "token_digest",
    "token_matches",
    "verify_counter_token",
]


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def counter_qr_token(counter_id: int, *, secret: str) -> str:
    """The token printed in a counter's QR code."""
    return _mac(secret, f"counter-qr:{counter_id}")


def verify_counter_token(counter_id: int, token: str, *, secret: str) -> None:
    """Refuse (403 counter_token_invalid) a token that is not this counter's."""
    if not hmac.compare_digest(
        token.encode(), counter_qr_token(counter_id, secret=secret).encode()
    ):
        raise Forbidden(
            "this QR code does not belong to this counter; scan the code on the counter",
            code="counter_token_invalid",
        )


def order_access_token(scope_key: str, *, secret: str) -> str:
    """The shopper's token to read the order created under `scope_key`."""
    return _mac(secret, f"order-access:{scope_key}")


def token_digest(token: str) -> str:
    """What the database keeps of an access token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    """Whether `token` is the one whose digest is stored."""
    return hmac.compare_digest(token_digest(token), digest)
