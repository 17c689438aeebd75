"""Numbers typed into the pages' forms: plain ASCII digits, no larger than a column holds.

`str.isdigit()` alone is not enough: it takes "²", which `int()` refuses, and any number of
digits, past what `int()` converts or the database stores; each would end in a 500.
"""

from __future__ import annotations

from pos.db import MAX_INTEGER
from pos.errors import InvalidInput

__all__ = ["is_whole_number", "whole_number"]

_MAX_DIGITS = len(str(MAX_INTEGER))


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
