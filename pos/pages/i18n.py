"""Message catalogs (kiosk_ui/locales/*.json) and choosing the language of a request.

The language comes from `?lang=` (which the page then keeps in a cookie), else the cookie, else
the best `Accept-Language` match, else Chinese. Templates only hold message keys; every visible
word is in a catalog, so switching the language changes every string but the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Literal

from kiosk_ui import LOCALES

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "Language",
    "Translator",
    "catalog",
    "negotiate",
]

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"
LANGUAGE_COOKIE = "pos_lang"


@cache
def catalog(language: Language) -> dict[str, str]:
    """The messages of `language`, by key."""
    messages: dict[str, str] = json.loads((LOCALES / f"{language}.json").read_text("utf-8"))
    return messages


def _known(value: str | None) -> Language | None:
    if value is None:
        return None
    short = value.strip().lower()[:2]
    return short if short in LANGUAGES else None


def _from_accept_language(header: str) -> Language | None:
    weighted: list[tuple[float, int, Language]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        language = _known(tag)
        if language is None:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        weighted.append((-quality, position, language))
    return min(weighted)[2] if weighted else None


def negotiate(query: str | None, cookie: str | None, accept_language: str) -> Language:
    """The language a request asks for, in the order: query, cookie, Accept-Language, default."""
    return (
        _known(query)
        or _known(cookie)
        or _from_accept_language(accept_language)
        or DEFAULT_LANGUAGE
    )


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks messages up in one language; a key missing there falls back to Chinese."""

    language: Language

    def __call__(self, key: str, **values: object) -> str:
        """The message `key`, with `{name}` placeholders filled from `values`."""
        text = catalog(self.language).get(key) or catalog(DEFAULT_LANGUAGE).get(key, key)
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        """Whether the catalog has a message `key`."""
        return key in catalog(self.language)

    @property
    def html_lang(self) -> str:
        """The value of the page's `lang` attribute."""
        return "zh-CN" if self.language == "zh" else "en"

    @property
    def other(self) -> Language:
        """The language the switch on each page offers."""
        return "en" if self.language == "zh" else "zh"
