from __future__ import annotations

import re
import uuid

import httpx
import pytest
from litestar import Litestar

from pos.app import create_app
from pos.catalog.tables import Product
from pos.layouts import apply_layout
from pos.money import parse_yuan
from pos.orders import service as orders
from pos.orders.tables import Order
from pos.orders.tokens import counter_qr_token
from pos.payments.tables import Payment
from pos.settings import Settings
from pos.stores.tables import Listing
from tests.helpers.demo import demo_layout
from tests.helpers.shop import SECRET, open_shop
from tests.integration.pages.conftest import Demo, run_outbox, sandbox_away

pytestmark = pytest.mark.anyio


async def test_counter_page_lists_the_counters_products_with_price_origin_and_mark(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    response = await client.get(demo.counter_url)
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "利辛县蒲公英面条" in html
    assert "¥18.80" in html
    assert "利辛县" in html
    assert "扶贫产品认证" in html
    assert 'loading="lazy"' in html
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_a_product_picture_at_an_https_url_is_shown_and_allowed(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    picture = "https://img.fupin.example.cn/noodles.jpg"  # the importer takes https pictures
    await Product.update({Product.image_url: picture}, force=True)

    response = await client.get(demo.counter_url)

    assert f'src="{picture}"' in response.text
    assert "img-src 'self' data: https:;" in response.headers["content-security-policy"]


@pytest.mark.parametrize("catalog_page_size", [2])
async def test_counter_page_shows_pos_catalog_page_size_products_a_page(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    first = await client.get(demo.counter_url)
    more = re.search(r'href="(/c/[^"]+cursor=\d+)"', first.text)
    assert more is not None
    second = await client.get(more[1].replace("&amp;", "&"))
    assert [_product_count(page.text) for page in (first, second)] == [2, 2]


def _product_count(html: str) -> int:
    return html.count('<li class="product"')


async def test_counter_page_refuses_a_token_of_another_counter(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    response = await client.get(f"/c/{demo.counter_id}?t=forged")
    assert response.status_code == 403
    assert "二维码与本柜台不符" in response.text


async def test_a_closed_counters_qr_code_says_so(client: httpx.AsyncClient, demo: Demo) -> None:
    layout = demo_layout("XM-M1-LVCUO")
    devices = [device.model_copy(update={"counter": None}) for device in layout.devices]
    await apply_layout(
        layout.model_copy(update={"counters": [], "devices": devices}), changed_by="test"
    )
    response = await client.get(demo.counter_url)
    assert response.status_code == 404
    assert "该柜台已停止营业" in response.text
    assert "counter_closed" in response.text


async def test_english_is_chosen_by_query_then_kept_in_a_cookie(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    first = await client.get(demo.counter_url + "&lang=en")
    assert '<html lang="en">' in first.text
    assert "Lixin Dandelion Noodles" in first.text
    assert first.cookies.get("pos_lang") == "en"
    again = await client.get(demo.counter_url)
    assert '<html lang="en">' in again.text


async def test_accept_language_picks_english(client: httpx.AsyncClient, demo: Demo) -> None:
    response = await client.get(demo.counter_url, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in response.text


async def _order(client: httpx.AsyncClient, demo: Demo) -> str:
    page = await client.get(demo.counter_url)
    token = re.search(r'name="t" value="([^"]+)"', page.text)
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert token
    assert key
    noodles = re.search(r'name="(q\d+)"', page.text)
    plums = re.search(r'name="(g\d+)"', page.text)
    assert noodles
    assert plums
    response = await client.post(
        f"/c/{demo.counter_id}/order",
        data={"t": token[1], "key": key[1], noodles[1]: "2", plums[1]: "500"},
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def test_the_cart_form_creates_an_order_priced_by_the_server(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    location = await _order(client, demo)
    assert location.startswith("/o/")
    page = await client.get(location)
    assert page.status_code == 200
    assert "¥37.60" in page.text  # 2 x 18.80
    assert "¥12.00" in page.text  # 0.5 kg x 24.00
    assert "¥49.60" in page.text
    assert "待支付" in page.text


async def test_an_empty_cart_gets_a_message(client: httpx.AsyncClient, demo: Demo) -> None:
    token = demo.counter_url.split("t=")[1]
    response = await client.post(f"/c/{demo.counter_id}/order", data={"t": token, "key": "k"})
    assert response.status_code == 422
    assert "请至少选择一件商品" in response.text


async def test_paying_on_the_wallet_leads_to_a_receipt_with_origin_and_rating_form(
    paying_client: httpx.AsyncClient, demo: Demo
) -> None:
    client = paying_client
    location = await _order(client, demo)
    order_id = location.split("/")[2].split("?")[0]
    token = location.split("token=")[1]
    paying = await client.post(f"/o/{order_id}/pay", data={"token": token, "key": "k1"})
    assert paying.status_code == 200
    wallet = re.search(r'id="wallet" class="button primary" href="([^"]+)"', paying.text)
    assert wallet
    paid = await client.post(httpx.URL(wallet[1]).path, data={"payer": "shopper-1"})
    assert paid.status_code == 200
    await run_outbox()
    receipt = await client.get(f"/r/{order_id}?token={token}")
    assert receipt.status_code == 200
    html = receipt.text
    assert "已支付" in html
    assert "FPC-341623-2026-0001" in html
    assert "淮北平原" in html  # the origin story
    assert 'name="stars1"' in html
    full = "好吃\r\n" + "面" * 497  # 500 characters in the box, a line break counted once
    rated = await client.post(
        f"/r/{order_id}/ratings", data={"token": token, "stars1": "5", "comment1": full}
    )
    assert rated.status_code == 303, rated.text
    after = await client.get(rated.headers["location"])
    assert "好吃" in after.text
    assert 'name="stars1"' not in after.text
    assert 'name="stars2"' in after.text


async def test_a_shopper_who_cancels_gets_the_closed_order_and_its_goods_go_back(
    paying_client: httpx.AsyncClient, demo: Demo
) -> None:
    location = await _order(paying_client, demo)
    order_id, token = location.split("/")[2].split("?")[0], location.split("token=")[1]
    await paying_client.post(f"/o/{order_id}/pay", data={"token": token, "key": "k1"})

    refused = await paying_client.post(f"/o/{order_id}/cancel", data={"token": "wrong"})
    cancelled = await paying_client.post(f"/o/{order_id}/cancel", data={"token": token})

    assert refused.status_code == 403
    assert (cancelled.status_code, cancelled.headers["location"]) == (303, location)
    page = await paying_client.get(location)
    assert "订单已关闭，商品已放回货架。" in page.text
    assert await Payment.select(Payment.status) == [{"status": "closed"}]


IN_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322d) NetType/WIFI Language/zh_CN"
)
IN_ALIPAY = (
    "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0"
    " Chrome/105.0.5195.148 Mobile Safari/537.36 AliApp(AP/10.5.36.8000) AlipayClient/10.5.36.8000"
)


@pytest.mark.parametrize(
    ("provider", "browser", "hint"),
    [
        ("alipay", IN_WECHAT, "微信内无法使用支付宝"),
        ("wechat", IN_ALIPAY, "支付宝内无法使用微信支付"),
        (
            "alipay",
            {"User-Agent": IN_WECHAT, "Accept-Language": "en"},
            "WeChat does not open Alipay",
        ),
    ],
    ids=["alipay_in_wechat", "wechat_pay_in_alipay", "english"],
)
async def test_a_wallet_the_in_app_browser_blocks_is_replaced_by_a_hint_to_open_the_browser(
    app: Litestar,
    client: httpx.AsyncClient,
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    browser: str | dict[str, str],
    hint: str,
) -> None:
    monkeypatch.setattr(app.state["payments"].provider, "name", provider)
    headers = {"User-Agent": browser} if isinstance(browser, str) else browser
    location = await _order(client, demo)
    order_id, token = location.split("/")[2].split("?")[0], location.split("token=")[1]

    page = await client.get(location, headers=headers)
    tapped = await client.post(  # the Pay button of a page loaded before
        f"/o/{order_id}/pay", data={"token": token, "key": "k1"}, headers=headers
    )

    for shown in (page, tapped):
        assert shown.status_code == 200, shown.text
        assert hint in shown.text
        assert f'action="/o/{order_id}/pay"' not in shown.text
        assert f'action="/o/{order_id}/cancel"' in shown.text
    assert await Payment.count() == 0


@pytest.mark.parametrize(
    ("provider", "browser"),
    [("alipay", IN_ALIPAY), ("wechat", IN_WECHAT), ("sandbox", IN_WECHAT), ("alipay", "")],
)
async def test_a_wallet_the_browser_can_open_keeps_its_pay_button(
    app: Litestar,
    client: httpx.AsyncClient,
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    browser: str,
) -> None:
    monkeypatch.setattr(app.state["payments"].provider, "name", provider)
    location = await _order(client, demo)

    page = await client.get(location, headers={"User-Agent": browser})

    assert 'id="open-in-browser"' not in page.text
    assert re.search(r'action="/o/\d+/pay"', page.text)


async def test_an_order_page_needs_its_token(client: httpx.AsyncClient, demo: Demo) -> None:
    location = await _order(client, demo)
    response = await client.get(location.split("?")[0] + "?token=wrong")
    assert response.status_code in (403, 404)
    assert "<html" in response.text


def _amount_shown(html: str, field: str) -> str | None:
    """The value of the cart's amount field `field`, None when the page has no such field."""
    found = re.search(rf'<input id="{field}" name="{field}"[^>]*\svalue="(\d+)"', html)
    return found[1] if found else None


async def _name_zh(product_id: int) -> str:
    row = await Product.select(Product.name_zh).where(Product.id == product_id).first()
    assert row is not None
    return str(row["name_zh"])


async def test_a_cart_short_of_one_product_comes_back_naming_it_with_the_amounts_kept(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=10)
    sauce = await shop.add(price_fen=3000, stock=1)
    response = await client.post(
        f"/c/{shop.counter_id}/order",
        data={
            "t": counter_qr_token(shop.counter_id, secret=SECRET),
            "key": uuid.uuid4().hex,
            f"q{tea}": "2",
            f"q{sauce}": "3",
        },
    )
    assert response.status_code == 409, response.text
    assert await Order.count() == 0
    # Not "not enough in stock" of something: the shopper is told which, and keeps the cart.
    assert f"「{await _name_zh(sauce)}」库存不足，请减少数量。" in response.text
    assert 'data-code="out_of_stock"' in response.text
    assert _amount_shown(response.text, f"q{tea}") == "2"
    assert _amount_shown(response.text, f"q{sauce}") == "3"


async def test_a_product_withdrawn_before_checkout_is_named_and_taken_out_of_the_cart(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=10)
    sauce = await shop.add(price_fen=3000, stock=10)
    await Listing.update({Listing.active: False}).where(Listing.product == sauce)
    response = await client.post(
        f"/c/{shop.counter_id}/order",
        data={
            "t": counter_qr_token(shop.counter_id, secret=SECRET),
            "key": uuid.uuid4().hex,
            f"q{tea}": "2",
            f"q{sauce}": "1",
        },
    )
    assert response.status_code == 422, response.text
    assert f"「{await _name_zh(sauce)}」已停售，已从购物车移除" in response.text
    assert _amount_shown(response.text, f"q{tea}") == "2"
    assert _amount_shown(response.text, f"q{sauce}") is None  # not ordered again unseen


async def test_a_refused_cart_names_the_product_in_english(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    page = await client.get(demo.counter_url + "&lang=en")
    noodles = re.search(r'name="(q\d+)"', page.text)  # the demo holds 60 packs
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert noodles
    assert key
    token = demo.counter_url.split("t=")[1]

    response = await client.post(
        f"/c/{demo.counter_id}/order", data={"t": token, "key": key[1], noodles[1]: "61"}
    )

    assert response.status_code == 409
    assert '<html lang="en">' in response.text
    assert "Not enough Lixin Dandelion Noodles in stock; please take fewer." in response.text
    assert _amount_shown(response.text, noodles[1]) == "61"


@pytest.mark.parametrize("catalog_page_size", [2])
async def test_amounts_carried_to_another_page_are_shown_there_and_ordered_with_its_own(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    first = await client.get(demo.counter_url)
    chosen = re.search(r'name="([qg]\d+)"', first.text)
    more = re.search(r'<a class="button more" href="([^"]+)"', first.text)
    assert chosen
    assert more
    amount = "500" if chosen[1].startswith("g") else "2"

    second = await client.get(more[1].replace("&amp;", "&") + f"&{chosen[1]}={amount}")

    assert "购物车中的其他商品" in second.text
    assert _amount_shown(second.text, chosen[1]) == amount
    here = re.search(r'name="(q\d+)"[^>]*value="0"', second.text)
    key = re.search(r'name="key" value="([^"]+)"', second.text)
    assert here
    assert key
    token = demo.counter_url.split("t=")[1]
    ordered = await client.post(
        f"/c/{demo.counter_id}/order",
        data={"t": token, "key": key[1], chosen[1]: amount, here[1]: "1"},
    )
    assert ordered.status_code == 303, ordered.text
    order = await orders.get_order(int(ordered.headers["location"].split("/")[2].split("?")[0]))
    assert sorted(line.product_id for line in order.lines) == sorted(
        int(field[1:]) for field in (chosen[1], here[1])
    )


@pytest.mark.parametrize("amount", ["²", "9" * 5000])
async def test_an_amount_that_is_not_plain_digits_gets_a_message(
    client: httpx.AsyncClient, demo: Demo, amount: str
) -> None:
    page = await client.get(demo.counter_url)
    noodles = re.search(r'name="(q\d+)"', page.text)
    assert noodles
    token = demo.counter_url.split("t=")[1]
    response = await client.post(
        f"/c/{demo.counter_id}/order", data={"t": token, "key": "k", noodles[1]: amount}
    )
    assert response.status_code == 422
    assert "请输入整数" in response.text


async def test_stars_that_are_not_plain_digits_are_no_rating(client: httpx.AsyncClient) -> None:
    response = await client.post("/r/1/ratings", data={"token": "t", "stars1": "²"})
    assert response.status_code == 422
    assert "<html" in response.text


async def test_an_order_with_a_markdown_adds_up_on_the_shoppers_order_page(
    client: httpx.AsyncClient,
) -> None:
    """Two packs at 10.00, both from a batch marked down 50 %: 20.00 - 10.00 = 10.00."""
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=12)
    await shop.mark_down(product, units=2, percent=50)
    order = (await shop.order({"product_id": product, "quantity": 2})).order
    assert (order.subtotal_fen, order.discount_fen, order.total_fen) == (2000, 1000, 1000)

    page = await client.get(f"/o/{order.id}?token={order.access_token}")
    assert page.status_code == 200, page.text
    table = page.text.split('<table class="lines">')[1].split("</table>")[0]
    body, foot = table.split("<tfoot>")
    lines = [parse_yuan(amount) for amount in re.findall(r'<td class="num">¥([\d.]+)</td>', body)]
    discount = re.search(r"-¥([\d.]+)", foot)
    total = re.search(r'class="num total">¥([\d.]+)<', foot)
    assert total
    shown_discount = parse_yuan(discount[1]) if discount else 0
    assert sum(lines) - shown_discount == parse_yuan(total[1]), (lines, shown_discount, total[1])


async def test_past_the_order_budget_the_phone_is_told_why_in_its_language(
    settings: Settings, demo: Demo
) -> None:
    app = create_app(settings.model_copy(update={"order_budget": 1}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://pos.test") as phone,
    ):
        await _order(phone, demo)
        page = await phone.get(demo.counter_url)
        token, key = re.search(r'name="t" value="([^"]+)"', page.text), uuid.uuid4().hex
        noodles = re.search(r'name="(q\d+)"', page.text)
        assert token
        assert noodles
        refused = await phone.post(
            f"/c/{demo.counter_id}/order", data={"t": token[1], "key": key, noodles[1]: "1"}
        )
        assert await Order.count() == 1

    assert refused.status_code == 429
    assert "下单过于频繁" in refused.text
    assert int(refused.headers["retry-after"]) > 0


async def test_a_payment_the_provider_does_not_answer_keeps_the_order_page_and_its_pay_button(
    paying_client: httpx.AsyncClient, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_away(monkeypatch, "create")
    location = await _order(paying_client, demo)
    order_id = location.split("/")[2].split("?")[0]
    token = location.split("token=")[1]

    paying = await paying_client.post(f"/o/{order_id}/pay", data={"token": token, "key": "k1"})

    assert paying.status_code == 200, paying.text
    assert 'data-code="provider_unavailable"' in paying.text
    assert f'action="/o/{order_id}/pay"' in paying.text  # the shopper may try again
    assert f'action="/o/{order_id}/cancel"' in paying.text
