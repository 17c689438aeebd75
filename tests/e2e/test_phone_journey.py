"""The shopper's phone: counter QR code -> cart -> sandbox wallet -> live status -> e-receipt."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.e2e.conftest import Site, screenshot_path

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

NOODLES = "利辛县蒲公英面条"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# Every visible string and label but the data (marked translate="no" or lang="zh-CN").
_UNTRANSLATED = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('[translate="no"], [lang="zh-CN"], script, noscript')
    .forEach(e => e.remove());
  const labels = [...copy.querySelectorAll("[aria-label], [alt], [placeholder], [title]")]
    .map(e => [e.getAttribute("aria-label"), e.getAttribute("alt"), e.getAttribute("placeholder"),
               e.getAttribute("title")].join(" "));
  const values = [...copy.querySelectorAll("input[type=submit], button")].map(e => e.value || "");
  document.body.append(copy);
  copy.hidden = false;
  const text = copy.innerText;
  copy.remove();
  return [text, ...labels, ...values].join("\\n");
}"""


async def _order_noodles(page: Page, site: Site, *, lang: str = "zh") -> None:
    await page.goto(site.counter_url + f"&lang={lang}")
    product = page.locator(".product").filter(has=page.locator("img[src*=dandelion-noodles]"))
    more = "增加" if lang == "zh" else "More"
    await product.get_by_role("button", name=more).click()
    await product.get_by_role("button", name=more).click()
    await expect(page.locator("#cart-total")).to_have_text("¥37.60")


async def test_a_shopper_pays_by_phone_and_gets_the_e_receipt(
    site: Site, phone: BrowserContext
) -> None:
    page = await phone.new_page()
    await _order_noodles(page, site)
    await expect(page.get_by_role("heading", name=NOODLES)).to_be_visible()
    await expect(page.locator(".product .cert").first).to_contain_text("扶贫产品认证")
    await page.screenshot(path=screenshot_path("phone-counter"), full_page=False)
    # Switching the language, there and back, keeps the chosen amounts.
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#cart-total")).to_have_text("¥37.60")
    await page.get_by_role("link", name="中文").click()
    await expect(page.locator("#cart-total")).to_have_text("¥37.60")

    await page.get_by_role("button", name="去结算").click()
    await expect(page).to_have_url(re.compile(r"/o/\d+\?token="))
    await expect(page.locator("#status")).to_have_text("待支付")
    await page.get_by_role("button", name="支付 ¥37.60").click()
    async with phone.expect_page() as opened:
        await page.locator("#wallet").click()
    wallet = await opened.value
    await wallet.get_by_role("button", name="支付 Pay").click()
    await expect(wallet.get_by_text("已支付 Paid")).to_be_visible()

    await page.wait_for_url(re.compile(r"/r/\d+\?token="), timeout=15_000)
    await expect(page.get_by_role("heading", name="电子小票")).to_be_visible()
    await expect(page.locator(".meta")).to_contain_text("已支付")
    await expect(page.locator(".origin-card")).to_contain_text("FPC-341623-2026-0001")
    await expect(page.locator(".origin-card")).to_contain_text("淮北平原")
    await page.screenshot(path=screenshot_path("phone-receipt"), full_page=True)

    await page.locator("label[for='s1-5']").click()
    await page.get_by_label("留言（选填）").fill("面条很香")
    await page.get_by_role("button", name="提交评价").click()
    await expect(page.locator(".rated")).to_contain_text("面条很香")


async def test_english_leaves_no_chinese_but_the_data(site: Site, phone: BrowserContext) -> None:
    page = await phone.new_page()
    await _order_noodles(page, site, lang="en")
    assert CJK.findall(await page.evaluate(_UNTRANSLATED)) == []
    await page.screenshot(path=screenshot_path("phone-counter-en"))
    await page.get_by_role("button", name="Check out").click()
    await expect(page.locator("#status")).to_have_text("Awaiting payment")
    assert CJK.findall(await page.evaluate(_UNTRANSLATED)) == []
    await page.get_by_role("button", name="Pay ¥37.60").click()
    await expect(page.locator("#wallet")).to_be_visible()  # the pay answer's page, loaded
    assert CJK.findall(await page.evaluate(_UNTRANSLATED)) == []
    async with phone.expect_page() as opened:
        await page.locator("#wallet").click()
    await (await opened.value).get_by_role("button", name="支付 Pay").click()
    await page.wait_for_url(re.compile(r"/r/\d+\?token="), timeout=15_000)
    await expect(page.get_by_role("heading", name="E-receipt")).to_be_visible()
    assert CJK.findall(await page.evaluate(_UNTRANSLATED)) == []
    await page.screenshot(path=screenshot_path("phone-receipt-en"), full_page=True)


async def test_amounts_chosen_before_a_search_are_ordered_with_those_chosen_after(
    site: Site, phone: BrowserContext
) -> None:
    page = await phone.new_page()
    await _order_noodles(page, site)
    await page.get_by_label("搜索商品").fill("牦牛")
    await page.get_by_role("button", name="搜索", exact=True).click()

    # The noodles are not among the results: they wait above them, with the amount chosen.
    await expect(page.get_by_role("heading", name="购物车中的其他商品")).to_be_visible()
    noodles = page.locator(".product").filter(has=page.locator("img[src*=dandelion-noodles]"))
    await expect(noodles.locator("input")).to_have_value("2")
    sauce = page.locator(".product").filter(has=page.locator("img[src*=yak-meat-sauce]"))
    await sauce.get_by_role("button", name="增加").click()
    await expect(page.locator("#cart-total")).to_have_text("¥77.40")
    await page.get_by_role("button", name="去结算").click()

    await expect(page).to_have_url(re.compile(r"/o/\d+\?token="))
    lines = page.locator("table.lines tbody tr")
    await expect(lines).to_have_count(2)
    await expect(lines.filter(has_text=NOODLES)).to_contain_text("¥37.60")
    await expect(lines.filter(has_text="红原牦牛肉酱")).to_contain_text("¥39.80")


async def test_the_counter_page_fits_320_px_with_44_px_touch_targets(
    site: Site, browser_context_320: BrowserContext
) -> None:
    page = await browser_context_320.new_page()
    await page.goto(site.counter_url)
    await expect(page.locator(".product").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    small = await page.evaluate(
        """() => [...document.querySelectorAll(
            "button, input:not([type=hidden]), a.button, .topbar a")]
          .filter(e => e.offsetParent !== null)
          .map(e => e.getBoundingClientRect())
          .filter(r => r.height < 44 || r.width < 44)
          .length"""
    )
    assert small == 0
    labelled = await page.evaluate(
        """() => [...document.querySelectorAll("input:not([type=hidden])")]
          .every(e => e.labels.length > 0 || e.getAttribute("aria-label"))"""
    )
    assert labelled


# What WeChat's browser provides: the bridge, which here records what the page asks it.
_WECHAT_BRIDGE = """
window.bridgeCalls = [];
window.WeixinJSBridge = {invoke: (name, args, done) => window.bridgeCalls.push([name, args])};
"""


async def test_inside_wechat_the_order_page_hands_the_payment_to_wechat(
    site: Site, phone: BrowserContext
) -> None:
    jsapi = {"appId": "wx1", "timeStamp": "1", "nonceStr": "n", "package": "prepay_id=wx2"}
    page = await phone.new_page()
    await page.add_init_script(_WECHAT_BRIDGE)
    # The order page's payment part as the server renders it for JSAPI, with the real script.
    await page.route(
        f"{site.url}/wechat-pay-test",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f"""<button id="wechat-pay" data-jsapi='{json.dumps(jsapi)}'>Pay</button>
            <script src="/static/js/phone.js"></script>""",
        ),
    )
    await page.goto(f"{site.url}/wechat-pay-test")
    await page.wait_for_function("window.bridgeCalls.length === 1")

    await page.get_by_role("button", name="Pay").click()  # after a cancelled sheet: again

    calls = await page.evaluate("window.bridgeCalls")
    assert calls == [["getBrandWCPayRequest", jsapi]] * 2


# An order's stream that says at once the order is closed (the hold ended unpaid). Playwright
# cannot fulfil a stream with the type EventSource requires, so the page gets this one instead.
_CLOSED_STREAM = """
window.EventSource = class {
  addEventListener(name, listener) {
    const data = JSON.stringify({order_id: 1, state: "closed"});
    if (name === "status") setTimeout(() => listener({data}), 0);
  }
  close() {}
};
"""


async def test_an_order_that_closes_sends_the_page_to_the_order_not_back_to_itself(
    site: Site, phone: BrowserContext
) -> None:
    # Loaded again, the page that answered the Pay form would post it again, and WeChat's
    # payment page would spend its one-time sign-in code twice.
    page = await phone.new_page()
    await page.add_init_script(_CLOSED_STREAM)
    paying = """<p id="status" data-events="/events" data-order="/order-test"
        data-receipt="/receipt-test">待支付</p><script src="/static/js/phone.js"></script>"""
    await page.route(f"{site.url}/paying-test", _html(paying))
    await page.route(f"{site.url}/order-test", _html("<p>已关闭</p>"))

    await page.goto(f"{site.url}/paying-test")

    await page.wait_for_url(f"{site.url}/order-test")


def _html(body: str) -> Callable[[Route], Awaitable[None]]:
    async def fulfil(route: Route) -> None:
        await route.fulfill(content_type="text/html", body=body)

    return fulfil
