"""Text measured in printer columns: CJK is two columns wide; money and weight formatting."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "clean_text",
    "display_width",
    "format_fen",
    "format_kg",
    "pad_left",
    "pad_right",
    "wrap_text",
]

# Words of printable ASCII stay together; any other character may start a new line.
_TOKEN = re.compile(r" +|[!-~]+|.", re.DOTALL)


@lru_cache(maxsize=4096)
def _char_width(char: str) -> int:
    # Chinese printers print every multi-byte GB18030 character with the 24-dot double-byte
    # font, so East Asian Ambiguous characters (·, ×, ①) take two columns as well.
    return 2 if unicodedata.east_asian_width(char) in ("W", "F", "A") else 1


def display_width(text: str) -> int:
    """Columns `text` takes on the paper (Wide/Fullwidth characters count 2)."""
    if text.isascii():
        return len(text)
    return sum(1 if char.isascii() else _char_width(char) for char in text)


def clean_text(text: str) -> str:
    """Replace control characters, so a product name can never inject ESC/POS commands.

    Each becomes as many spaces as `display_width` counts it: a full-width space (U+3000),
    common in Chinese names, stays two columns wide, so the amounts stay in line.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else " " * display_width(char) for char in text)


def pad_right(text: str, width: int) -> str:
    """Left-align `text` in `width` columns."""
    return text + " " * (width - display_width(text))


def pad_left(text: str, width: int) -> str:
    """Right-align `text` in `width` columns."""
    return " " * (width - display_width(text)) + text


def wrap_text(text: str, width: int) -> list[str]:
    """Break `text` into lines of at most `width` columns, keeping ASCII words whole."""
    lines: list[str] = []
    line, used = "", 0
    for token in _TOKEN.findall(text):
        size = display_width(token)
        if used + size > width and line:
            lines.append(line.rstrip())
            line, used = "", 0
        if not line and token.isspace():
            continue
        while size > width:  # a word longer than a whole line is cut by characters
            head = _take(token, width) or token[0]
            lines.append(head)
            token = token[len(head) :]
            size = display_width(token)
        line, used = line + token, used + size
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _take(text: str, width: int) -> str:
    used = 0
    for index, char in enumerate(text):
        used += display_width(char)
        if used > width:
            return text[:index]
    return text


def format_fen(fen: int) -> str:
    """Yuan with two decimals from integer fen: 12345 -> '123.45'."""
    yuan, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{yuan}.{cents:02d}"


def format_kg(weight_g: int) -> str:
    """Kilograms with three decimals from grams: 1250 -> '1.250'."""
    kilograms, grams = divmod(weight_g, 1000)
    return f"{kilograms}.{grams:03d}"
