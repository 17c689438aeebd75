"""Writes made once per Idempotency-Key: a repeat, or its twin racing it, gets the first's result.

The key is stored in a UNIQUE column of the row the write inserts. A repeat finds that row; of
two requests with one key at once, the second's insert breaks the constraint, and it answers
with what the first wrote.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pos.db.transaction import write_transaction
from pos.db.unique import DUPLICATE_KEY

__all__ = ["once_per_key"]

T = TypeVar("T")


async def once_per_key(
    key: str | None,
    find: Callable[[str], Awaitable[T | None]],
    write: Callable[[], Awaitable[T]],
) -> T:
    """What `find` has for `key`, else what `write` makes of it in a write transaction.

    Without a key, `write` runs every time. Checks that may refuse a first request but not its
    repeat (a notice since received, say) belong in `write`.
    """
    if key is not None and (found := await find(key)) is not None:
        return found
    try:
        async with write_transaction():
            written = await write()
    except DUPLICATE_KEY:
        if key is None or (found := await find(key)) is None:
            raise
        return found
    return written
