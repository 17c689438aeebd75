from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import pos
from kiosk_ui import TEMPLATES
from pos.errors import PosError
from pos.pages.i18n import LANGUAGES, Translator, catalog, negotiate
from pos.problems import code_for_status

KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
CJK = re.compile(r"[\u3400-\u9fff]")
RAISED_CODE = re.compile(r'\bcode="([a-z0-9_]+)"')

# Raised only where no page reaches: machine-to-machine and administration routes of the API, the
# worker, the CLI. A code goes here only for that reason; any other code a page may show.
NOT_ON_PAGES = {
    # payment providers' notifications; a mismatched amount becomes a flag, never an answer
    "amount_mismatch",
    "notification_forged",
    "notification_malformed",
    "notification_refused",
    "notification_replayed",
    "notification_stale",
    "notification_unsigned",
    "unknown_provider",
    # the sandbox wallet: a demo page of its own, outside the catalogs
    "notify_refused",
    "sandbox_off",
    # suppliers' pushes and feeds, the catalog import
    "catalog_format",
    "catalog_rejected",
    "feed_not_found",
    "feed_unreachable",
    "notice_order_changed",
    "notice_received",
    "occurred_in_future",
    "restock_order_cancelled",
    "signature_invalid",
    "signature_missing",
    "signature_stale",
    "supplier_not_found",
    "supplier_update_invalid",
    # the platform: relay, reconciliation, the platform double
    "dead_letter_not_found",
    "dead_letter_not_sendable",
    "other_merchant",
    "platform_down",
    "platform_error",
    "platform_key_missing",
    "platform_not_configured",
    "signature_refused",
    "store_without_merchant_id",
    "supplier_without_credit_code",
    # administration through the API: staff, devices, batches, stock moves, members, ratings
    "api_key_invalid",
    "bad_role",
    "batch_empty",
    "batch_not_found",
    "device_inactive",
    "device_not_found",
    "device_token_already_issued",
    "invalid_phone",
    "markdown_reason_required",
    "markdown_rule_not_found",
    "movement_quantity",
    "no_payer",
    "payer_linked",
    "rating_not_found",
    "token_not_found",
    "transfer_same_store",
    "unknown_province",
    "username_taken",
    "weak_password",
    # the command line: loading the demo, starting on an old schema, staff and supplier keys
    "demo_file",
    "not_migrated",
    "staff_not_found",
    "supplier_key_not_found",
    # the pages answer these with the sign-in form, not a message
    "bad_credentials",
    "no_credential",
}


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


def _codes_raised_under_pos() -> set[str]:
    sources = Path(pos.__file__).parent.rglob("*.py")
    literal = {code for path in sources for code in RAISED_CODE.findall(path.read_text("utf-8"))}
    defaults = {error.code for error in (PosError, *PosError.__subclasses__())}
    # A page shows an HTTP error by its status's code; one without its own code gets the general
    # message (pos.pages.errors), as does no code at all.
    by_status = {code_for_status(status) for status in range(400, 500)} - {code_for_status(499)}
    return literal | defaults | by_status | {"internal_error"}


def test_every_error_a_page_can_show_has_a_message_in_both_languages() -> None:
    shown = _codes_raised_under_pos() - NOT_ON_PAGES
    assert len(shown) > 50, "the pattern found too few codes"
    for language in LANGUAGES:
        assert {code for code in shown if f"error.{code}" not in catalog(language)} == set()


def test_codes_said_to_stay_off_pages_are_raised_somewhere() -> None:
    assert NOT_ON_PAGES - _codes_raised_under_pos() == set()
