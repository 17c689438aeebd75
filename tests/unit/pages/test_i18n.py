from __future__ import annotations

import re
import string

import pytest

from kiosk_ui import TEMPLATES
from pos.pages.i18n import Translator, catalog, negotiate

KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
CJK = re.compile(r"[\u3400-\u9fff]")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog("zh"), catalog("en")
    assert set(zh) == set(en)
    for key in zh:
        assert _placeholders(zh[key]) == _placeholders(en[key]), key


def test_every_key_a_template_uses_is_in_the_catalogs() -> None:
    used = {
        key
        for path in TEMPLATES.rglob("*.html")
        for key in KEY_IN_TEMPLATE.findall(path.read_text("utf-8"))
    }
    assert used, "the pattern found no keys"
    keys = set(catalog("zh"))
    prefixes = {key for key in used if key.endswith((".", "_"))}
    assert used - prefixes - keys == set()
    for prefix in prefixes:  # t("state." ~ order.state): some key completes each prefix
        assert any(key.startswith(prefix) for key in keys), prefix


def test_the_english_catalog_has_no_chinese_but_the_switch_to_chinese() -> None:
    chinese = {key for key, text in catalog("en").items() if CJK.search(text)}
    assert chinese == {"lang.other"}


def test_templates_hold_no_chinese_text() -> None:
    for path in TEMPLATES.rglob("*.html"):
        assert not CJK.search(path.read_text("utf-8")), path


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        ("en", "zh", "zh-CN", "en"),
        (None, "en", "zh-CN", "en"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR, zh-CN;q=0.5, en;q=0.4", "zh"),
        (None, None, "en;q=0.2, zh;q=0.8", "zh"),
        (None, None, "", "zh"),
        ("xx", "yy", "de", "zh"),
        (None, None, "en;q=bad", "zh"),
    ],
)
def test_language_comes_from_query_cookie_header_then_chinese(
    query: str | None, cookie: str | None, header: str, expected: str
) -> None:
    assert negotiate(query, cookie, header) == expected


def test_a_message_fills_its_placeholders_and_a_missing_key_falls_back() -> None:
    english = Translator("en")
    assert english("order.title", number="42") == "Order 42"
    assert english("no.such.key") == "no.such.key"
    assert english.other == "zh"
    assert english.html_lang == "en"
