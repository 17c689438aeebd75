"""The Idempotency-Key header, as every API that takes one reads it.

A retry with the same key gets the first answer and changes nothing. At most 100 characters: the
services store a key with a prefix naming its scope (`counter:3:<key>`) in columns of 160 and 200.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

__all__ = [
    "MAX_IDEMPOTENCY_KEY",
    "MIN_ORDER_KEY",
    "IdempotencyKey",
    "OptionalIdempotencyKey",
    "idempotency_key",
]

MAX_IDEMPOTENCY_KEY = 100
# A retry with an order's key hands back the order's access token: a key one could guess ("1",
# "order-7") would hand the order to whoever guessed it. A UUID is 32 hex digits.
MIN_ORDER_KEY = 16


def idempotency_key(*, min_length: int = 1, description: str) -> HeaderParameter:
    """The header's parameter: `min_length` to 100 characters."""
    return HeaderParameter(
        name="Idempotency-Key",
        min_length=min_length,
        max_length=MAX_IDEMPOTENCY_KEY,
        description=description,
    )


_ANY_CHANGE = "a new random key per change; a retry with the same key gets the first answer"

IdempotencyKey = Annotated[str, idempotency_key(description=_ANY_CHANGE)]
OptionalIdempotencyKey = Annotated[str | None, idempotency_key(description=_ANY_CHANGE)]
