"""Pinyin initials of product names for search by first letters: 利辛县蒲公英面条 -> lxxpgymt."""

from __future__ import annotations

import unicodedata
from functools import cache

from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT

__all__ = ["name_initials"]

# pypinyin's phrase-aware conversion costs ~45 us a name (6 s for the national list). So each
# character's own initial is cached in a str.translate table, and only names containing a
# phrase whose initials differ from its characters' (长白山 is cbs, not zbs) take that path.


class _InitialTable(dict[int, str]):
    """Code point -> initial, filled on first use (str.translate looks keys up one by one)."""

    def __missing__(self, code_point: int) -> str:
        char = chr(code_point)
        if char.isascii():
            initial = char.lower() if char.isalnum() else ""
        else:
            spoken = lazy_pinyin(char, style=Style.FIRST_LETTER)[0]
            initial = spoken.lower() if spoken.isascii() and spoken.isalpha() else ""
        self[code_point] = initial
        return initial


_INITIALS = _InitialTable()


def _syllable_initial(syllable: str) -> str:
    return unicodedata.normalize("NFD", syllable)[:1].lower()


@cache
def _exceptional_phrases() -> tuple[frozenset[str], dict[str, tuple[int, ...]]]:
    """Phrases that read differently from their characters; their lengths by first character."""
    phrases = frozenset(
        phrase
        for phrase, readings in PHRASES_DICT.items()
        if len(phrase) > 1
        and phrase.translate(_INITIALS) != "".join(_syllable_initial(r[0]) for r in readings)
    )
    lengths: dict[str, set[int]] = {}
    for phrase in phrases:
        lengths.setdefault(phrase[0], set()).add(len(phrase))
    return phrases, {first: tuple(sizes) for first, sizes in lengths.items()}


def _has_exceptional_phrase(name: str) -> bool:
    phrases, lengths_by_first = _exceptional_phrases()
    for start, char in enumerate(name):
        for length in lengths_by_first.get(char, ()):
            if name[start : start + length] in phrases:
                return True
    return False


def name_initials(name: str) -> str:
    """Lowercase pinyin first letters of the Han characters, plus any ASCII letters and digits."""
    if not _has_exceptional_phrase(name):
        return name.translate(_INITIALS)
    spoken = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()
    return "".join(char for char in spoken if char.isascii() and char.isalnum())
