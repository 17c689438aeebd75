"""The staff tablet: receiving by scanning, the figures, restock orders, a partial refund."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import APIRequestContext, BrowserContext, Page, expect

from pos.money import format_yuan
from pos.orders.tokens import counter_qr_token
from pos.settings import DEMO_SECRET
from tests.e2e.conftest import Site, screenshot_path
from tests.helpers.shop import weight_label

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

YAK_SAUCE = "6923456001015"
PLUMS_5_KG = weight_label("10001", 5000)  # Nanbu plums, sold by the kg under PLU 10001


async def _sign_in(page: Page, site: Site, username: str) -> None:
    await page.goto(f"{site.url}/staff/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(f"{username}-demo")
    await page.get_by_role("button", name="登录").click()
    await expect(page).to_have_url(f"{site.url}/staff")


async def test_a_restocker_receives_a_shipment_by_scanning(
    site: Site, tablet: BrowserContext
) -> None:
    page = await tablet.new_page()
    await _sign_in(page, site, "restocker")
    await page.locator(f"a[href='/staff/stores/{site.subway_store_id}']").last.click()
    await expect(page.locator("#alerts")).to_be_visible()
    await page.screenshot(path=screenshot_path("tablet-store"), full_page=True)
    await page.get_by_role("link", name="扫码收货").click()
    await page.get_by_role("button", name="无发货单收货").click()
    await expect(page.locator("#code")).to_be_focused()
    await page.keyboard.type(YAK_SAUCE)
    await page.get_by_label("数量（件或克）").fill("24")
    await page.get_by_label("批次号").fill("HY-2026-11")
    await page.get_by_label("保质期至").fill("2027-05-31")
    await page.get_by_role("button", name="添加").click()
    await expect(page.locator("table.lines")).to_contain_text("红原牦牛肉酱")
    await expect(page.locator("table.lines")).to_contain_text("HY-2026-11")
    # A crate of plums weighed on the station's scale: its label brings the grams.
    await expect(page.get_by_label("数量（件或克）")).to_have_value("")
    await page.keyboard.type(PLUMS_5_KG)
    await page.get_by_role("button", name="添加").click()
    await expect(page.locator("table.lines")).to_contain_text("南部脆李")
    await expect(page.locator("table.lines")).to_contain_text("5 千克")
    await page.get_by_role("button", name="确认入库").click()
    await expect(page.locator("#receiving-status")).to_have_text("已确认入库。")
    await page.screenshot(path=screenshot_path("tablet-receiving"), full_page=True)


async def test_a_manager_reads_the_dashboard(site: Site, tablet: BrowserContext) -> None:
    page = await tablet.new_page()
    await _sign_in(page, site, "manager")
    await page.get_by_role("link", name="查看看板").click()
    chart = page.get_by_role("img", name="每日销售")
    await expect(chart).to_be_visible()
    # Visible comes before loaded: wait for the chart's image itself (a broken one never loads).
    loaded = "img => img.complete && img.naturalWidth > 0"
    await page.wait_for_function(loaded, arg=await chart.element_handle())
    await page.screenshot(path=screenshot_path("tablet-dashboard"), full_page=True)


async def test_a_manager_orders_what_runs_low_and_cancels_it(
    site: Site, tablet: BrowserContext
) -> None:
    page = await tablet.new_page()
    await _sign_in(page, site, "manager")
    products = await page.request.get(f"{site.url}/api/counters/{site.counter_id}/products")
    product = (await products.json())["items"][0]
    threshold = await page.request.put(
        f"{site.url}/api/stores/{site.subway_store_id}/inventory/thresholds/{product['product_id']}",
        data={"min_level": 500, "target_level": 600},
    )
    assert threshold.ok, await threshold.text()
    await page.goto(f"{site.url}/staff/stores/{site.subway_store_id}")
    await page.get_by_label("建议补货").fill("120")
    await page.get_by_role("button", name="按以上数量下单补货").click()
    orders = page.locator(".restock-order")
    await expect(orders).to_have_count(1)
    await expect(orders).to_contain_text("已到 0 / 订 120")
    await page.screenshot(path=screenshot_path("tablet-restock"), full_page=True)
    await orders.get_by_role("button", name="取消订单").click()
    await expect(orders).to_have_count(0)


async def _paid_order(request: APIRequestContext, site: Site, packs: int) -> dict[str, Any]:
    """An order of `packs` of the counter's first product sold by the piece, paid by a code."""
    listed = await (await request.get(f"{site.url}/api/counters/{site.counter_id}/products")).json()
    product = next(item for item in listed["items"] if item["unit"] == "piece")
    created = await request.post(
        f"{site.url}/api/counters/{site.counter_id}/orders",
        data={
            "counter_token": counter_qr_token(site.counter_id, secret=DEMO_SECRET),
            "lines": [{"product_id": product["product_id"], "quantity": packs}],
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.ok, await created.text()
    order: dict[str, Any] = await created.json()
    paid = await request.post(  # scanned by the counter's screen
        f"{site.url}/api/orders/{order['id']}/payments?token={order['access_token']}",
        data={"method": "code", "auth_code": "134567890123456789"},
        headers={
            "Idempotency-Key": uuid.uuid4().hex,
            "Authorization": f"Bearer {site.counter_device_token}",
        },
    )
    assert (await paid.json())["status"] == "paid", await paid.text()
    return order


async def test_a_manager_refunds_one_of_two_packs_and_puts_it_back(
    site: Site, tablet: BrowserContext
) -> None:
    page = await tablet.new_page()
    order = await _paid_order(page.request, site, packs=2)
    await _sign_in(page, site, "manager")
    await page.goto(f"{site.url}/staff/stores/{site.subway_store_id}/orders")
    await page.get_by_label("订单号").fill(order["number"])
    await page.get_by_role("button", name="查找").click()
    paid_back, back = page.get_by_label("退款件数（最多 2 件）"), page.get_by_label("可退回 2 件")
    await expect(back).to_have_value("0")
    await page.get_by_label("退款原因").fill("一包破损")
    # The amount follows the goods paid back: one pack of the two is half the line's total.
    await paid_back.fill("2")
    amount = page.get_by_label("退款金额（元）")
    await expect(amount).to_have_value(format_yuan(order["lines"][0]["total_fen"]))
    await paid_back.fill("1")
    await expect(amount).to_have_value(format_yuan(order["lines"][0]["total_fen"] // 2))
    await back.fill("1")
    await page.screenshot(path=screenshot_path("tablet-refund"), full_page=True)
    await page.get_by_role("button", name="退款", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("退款已提交。")
    await expect(page.get_by_label("可退回 1 件")).to_be_visible()
    await expect(page.get_by_label("退款件数（最多 1 件）")).to_be_visible()
