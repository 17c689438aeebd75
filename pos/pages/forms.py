"""What the pages' forms send: a key the database can hold, numbers typed as digits, days.

A form's `key` (a page's Idempotency-Key) longer than the API lets one be would end in a 500 at
the database; it is refused first (a NUL in any field is `pos.nul_guard`'s). Numbers are plain
ASCII digits, no larger than a column holds: `str.isdigit()` alone is not enough, it takes "²",
which `int()` refuses, and any number of digits, past what `int()` converts or the database
stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from litestar import Request

from pos.db import MAX_INTEGER
from pos.errors import InvalidInput
from pos.idempotency import MAX_IDEMPOTENCY_KEY, MIN_ORDER_KEY

__all__ = [
    "checked_key",
    "form_day",
    "is_whole_number",
    "order_key",
    "read_form",
    "whole_number",
]

_MAX_DIGITS = len(str(MAX_INTEGER))


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form's text fields, its `key` checked by `checked_key`."""
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    checked_key(fields.get("key", ""))
    return fields


def checked_key(key: str) -> str:
    """A form's idempotency key, unless it is longer than an Idempotency-Key may be."""
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"the form's key is longer than {MAX_IDEMPOTENCY_KEY} characters; reload the page",
            code="form_key_too_long",
        )
    return key


def order_key(form: Mapping[str, str]) -> str:
    """The key of the order a form creates (a fresh one if it sends none); InvalidInput when it
    is shorter than the API lets an order key be: a guessed key would open another's order."""
    key = form.get("key") or uuid.uuid4().hex
    if len(key) < MIN_ORDER_KEY:
        raise InvalidInput(
            f"the form's key is shorter than {MIN_ORDER_KEY} characters; reload the page",
            code="form_key_too_short",
        )
    return key


def is_whole_number(text: str) -> bool:
    """Whether `text` is ASCII digits making a number an INTEGER column holds."""
    return (
        text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS and int(text) <= MAX_INTEGER
    )


def whole_number(value: str, *, code: str = "form_number") -> int:
    """The whole number in a form field; InvalidInput with `code` if it is not one."""
    text = value.strip()
    if not is_whole_number(text):
        raise InvalidInput(f"{value!r} is not a whole number", code=code)
    return int(text)


def form_day(value: str) -> date | None:
    """The day in a date field (YYYY-MM-DD); None when left empty; InvalidInput if it is no day."""
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date", code="form_date") from None
