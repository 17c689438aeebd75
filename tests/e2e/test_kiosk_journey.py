"""The self-checkout kiosk: typed barcodes (a keyboard-wedge scanner), a payment code, a receipt."""

from __future__ import annotations

import re

import anyio
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.conftest import Site, screenshot_path
from tests.helpers.shop import weight_label

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

NOODLES = "6903120028012"  # 18.80 a piece
CABBAGE = weight_label("20001", 1500)  # Linxia baby cabbage, 1.5 kg at 6.80 per kg
PAYMENT_CODE = "134567890123456789"  # the sandbox pays any code not ending in 0001-0004
USER_PAYING_THEN_PAID = "134567890123450001"
USER_PAYING_THEN_WRONG_PIN = "134567890123450004"
USER_PAYING_FOREVER = "134567890123450002"  # reversed by the worker 90 s after its charge


async def _paired_kiosk(site: Site, tablet: BrowserContext) -> Page:
    page = await tablet.new_page()
    await page.goto(f"{site.url}/kiosk/pair?token={site.kiosk_token}")
    await expect(page).to_have_url(f"{site.url}/kiosk")
    return page


async def _scan(page: Page, code: str) -> None:
    # A keyboard-wedge scanner types the digits and Enter into whatever has the focus.
    await page.keyboard.type(code)
    await page.keyboard.press("Enter")


async def _check_out_noodles(page: Page) -> None:
    """From the kiosk's start screen to the payment screen of a packet of noodles."""
    await _scan(page, NOODLES)
    await page.get_by_role("button", name="去支付").click()
    await expect(page.locator("#auth_code")).to_be_focused()


async def test_a_shopper_scans_pays_by_code_and_the_receipt_prints(
    site: Site, tablet: BrowserContext
) -> None:
    page = await _paired_kiosk(site, tablet)
    await expect(page.locator("#code")).to_be_focused()
    await _scan(page, NOODLES)
    await expect(page.locator("#cart")).to_contain_text("利辛县蒲公英面条")
    await _scan(page, CABBAGE)
    await expect(page.locator("#kiosk-total")).to_have_text("¥29.00")
    # Switching the language, there and back, keeps what was scanned.
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#kiosk-total")).to_have_text("¥29.00")
    await page.get_by_role("link", name="中文").click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.get_by_role("button", name="增加一件").first.click()
    await expect(page.locator("#kiosk-total")).to_have_text("¥47.80")
    await expect(page.locator("#code")).to_be_focused()
    await page.screenshot(path=screenshot_path("kiosk-cart"))

    await page.get_by_role("button", name="去支付").click()
    await expect(page.get_by_role("img", name="付款二维码")).to_be_visible()
    await expect(page.locator("#auth_code")).to_be_focused()
    heading = page.get_by_role("heading", name=re.compile(r"^订单 \d+$"))
    number = re.search(r"订单 (\d+)", await heading.inner_text())
    assert number
    await page.screenshot(path=screenshot_path("kiosk-pay"))
    await _scan(page, PAYMENT_CODE)

    await expect(page.locator("#kiosk-status")).to_contain_text("已支付")
    await expect(page.locator("#print-status")).to_have_text(
        "小票已打印，请取走小票。", timeout=20_000
    )
    await page.screenshot(path=screenshot_path("kiosk-printed"))
    receipt = await anyio.to_thread.run_sync(_printed, site, number[1])
    assert any("利辛县蒲公英面条" in line for line in receipt)


async def test_the_pay_screen_is_told_when_a_slow_payment_completes(
    site: Site, tablet: BrowserContext
) -> None:
    page = await _paired_kiosk(site, tablet)
    streams: list[str] = []
    page.on(
        "request", lambda request: streams.append(request.url) if "/events" in request.url else None
    )
    await _check_out_noodles(page)
    await _scan(page, USER_PAYING_THEN_PAID)
    await expect(page.locator("#kiosk-status")).to_contain_text("支付中")
    # The payer confirms on the phone; the worker's query settles it and the status is pushed.
    await expect(page.locator("#kiosk-status")).to_contain_text("已支付", timeout=20_000)
    assert streams, "the pay screen follows the order's status stream"


async def test_the_pay_screen_says_why_a_payment_failed_after_the_pin_was_asked_for(
    site: Site, tablet: BrowserContext
) -> None:
    page = await _paired_kiosk(site, tablet)
    await _check_out_noodles(page)
    await _scan(page, USER_PAYING_THEN_WRONG_PIN)
    await expect(page.locator("#kiosk-status")).to_contain_text("支付中")
    await expect(page.get_by_role("alert")).to_have_count(0)

    # The worker's query finds the charge failed and reverses it; the screen is told.
    failure = page.locator("#kiosk-status").get_by_role("alert")
    await expect(failure).to_contain_text("支付没有成功", timeout=20_000)
    await expect(failure).to_contain_text("wrong_pin")
    await expect(page.locator("#pin-hint")).to_have_count(0)
    await expect(page.get_by_role("img", name="付款二维码")).to_be_visible()  # still payable
    await page.screenshot(path=screenshot_path("kiosk-payment-failed"))


def _printed(site: Site, number: str) -> list[str]:
    for count in range(1, 20):
        for printed in site.printer.wait_for_receipts(count, timeout=20):
            lines = list(printed.decoded.text_lines)
            if any(number in line for line in lines):
                return lines
    raise AssertionError(f"no receipt of order {number} was printed")


async def test_an_unknown_code_is_explained_and_the_field_keeps_the_focus(
    site: Site, tablet: BrowserContext
) -> None:
    page = await _paired_kiosk(site, tablet)
    await _scan(page, "6900000000000")
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.locator("#code")).to_be_focused()


async def test_a_minute_without_input_starts_over(site: Site, tablet: BrowserContext) -> None:
    page = await tablet.new_page()
    await page.clock.install()
    await page.goto(f"{site.url}/kiosk/pair?token={site.kiosk_token}")
    await _scan(page, NOODLES)
    await expect(page.locator("#kiosk-total")).to_have_text("¥18.80")
    await page.clock.fast_forward("00:59")
    await expect(page.locator("#kiosk-total")).to_be_visible()
    await page.clock.fast_forward("00:02")
    await expect(page.get_by_text("欢迎！扫描第一件商品开始结账。")).to_be_visible()
    await expect(page.locator("#kiosk-total")).to_have_count(0)


async def _order_state(page: Page, site: Site, order_id: str, token: str) -> str:
    response = await page.request.get(f"{site.url}/api/orders/{order_id}?token={token}")
    assert response.ok, await response.text()
    state: str = (await response.json())["state"]
    return state


async def _idle_pay_screen(site: Site, tablet: BrowserContext) -> tuple[Page, str, str]:
    """A kiosk on the payment screen of noodles, its clock under the test's control: the page,
    the order's id and its token."""
    page = await tablet.new_page()
    await page.clock.install()
    await page.goto(f"{site.url}/kiosk/pair?token={site.kiosk_token}")
    await _check_out_noodles(page)
    await expect(page.get_by_role("img", name="付款二维码")).to_be_visible()
    cancel = page.locator("#cancel-form")
    found = re.search(r"/kiosk/orders/(\d+)/cancel", await cancel.get_attribute("action") or "")
    assert found
    return page, found[1], await cancel.locator("input[name=token]").input_value()


async def test_an_idle_payment_screen_warns_then_cancels_the_order(
    site: Site, tablet: BrowserContext
) -> None:
    page, order_id, token = await _idle_pay_screen(site, tablet)
    warning = page.get_by_role("dialog", name="您还在吗？")

    # The minute's last 15 s ask first: the shopper may be paying on their phone.
    await page.clock.fast_forward("00:44")
    await expect(warning).to_be_hidden()
    await page.clock.fast_forward("00:02")
    await expect(warning).to_be_visible()
    await expect(warning.locator("[data-countdown]")).to_have_text(re.compile(r"^1[45]$"))
    await page.screenshot(path=screenshot_path("kiosk-idle-warning"))
    await warning.get_by_role("button", name="继续").click()
    await expect(warning).to_be_hidden()
    await page.clock.fast_forward("00:40")
    await expect(warning).to_be_hidden()
    assert await _order_state(page, site, order_id, token) in ("open", "paying")

    # Nobody answers: the order is cancelled, and the kiosk starts over in its own language.
    await page.clock.fast_forward("00:06")
    await expect(warning).to_be_visible()
    await page.clock.fast_forward("00:15")
    await expect(page.get_by_text("欢迎！扫描第一件商品开始结账。")).to_be_visible()
    await expect(page).to_have_url(f"{site.url}/kiosk?lang=zh")
    assert await _order_state(page, site, order_id, token) == "closed"


async def test_a_payment_code_waiting_for_the_pin_keeps_the_screen_from_resetting(
    site: Site, tablet: BrowserContext
) -> None:
    page, order_id, token = await _idle_pay_screen(site, tablet)
    await _scan(page, USER_PAYING_FOREVER)
    await expect(page.locator("#kiosk-status")).to_contain_text("支付中")
    await expect(page.locator("#pin-hint")).to_have_text("请在手机上确认支付（输入支付密码）。")

    # The shopper types the PIN on their phone, untouched kiosk: no warning, no cancel, until
    # the provider answers (or the code is reversed, 90 s after its charge).
    await page.clock.run_for("02:00")
    await expect(page.get_by_role("dialog", name="您还在吗？")).to_be_hidden()
    assert await _order_state(page, site, order_id, token) == "paying"
    listed = await page.request.get(f"{site.url}/api/orders/{order_id}/payments?token={token}")
    assert [payment["status"] for payment in await listed.json()] == ["pending", "pending"]

    # A status that says so for longer than any PIN is asked for is stale (no worker to reverse
    # the code, a lost stream): the screen resets as any other, and its cancel reverses it.
    await page.clock.run_for("01:30")
    await expect(page).to_have_url(f"{site.url}/kiosk?lang=zh")
    assert await _order_state(page, site, order_id, token) == "closed"


async def test_a_product_scanned_into_the_payment_code_field_is_explained_on_the_pay_screen(
    site: Site, tablet: BrowserContext
) -> None:
    page = await _paired_kiosk(site, tablet)
    await _check_out_noodles(page)

    await _scan(page, NOODLES)  # the shopper's goods, not their wallet's code

    await expect(page.get_by_role("alert")).to_have_text("这不是微信或支付宝付款码。")
    await expect(page.locator("#auth_code")).to_be_focused()  # ready for the real code
    await expect(page.get_by_role("img", name="付款二维码")).to_be_visible()
    await _scan(page, PAYMENT_CODE)
    await expect(page.locator("#kiosk-status")).to_contain_text("已支付")
