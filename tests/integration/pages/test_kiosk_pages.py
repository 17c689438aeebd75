from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pos.catalog import service as catalog
from pos.events.outbox import dispatch_due
from pos.inventory import service as inventory
from pos.layouts import apply_layout
from pos.orders.tables import Order
from pos.pages.rendering import qr_svg
from pos.payments.tables import Payment, SandboxPayment
from pos.printing.receipts import receipt_url
from pos.settings import Settings
from pos.stores.tables import Counter, Device, Store
from tests.helpers.demo import demo_layout
from tests.helpers.shop import weight_label
from tests.integration.pages.conftest import Demo, run_outbox, sandbox_away

pytestmark = pytest.mark.anyio

NOODLES = "6903120028012"  # sold in the Linxia zone at 18.80
CABBAGE_PLU = "20001"  # Linxia baby cabbage, 6.80 per kg
LINXIA = "XM-SM-LINXIA"
PAYMENT_CODE = "134567890123456789"  # the sandbox pays it at once


async def _paired(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/kiosk/pair", data={"token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/kiosk"
    cookie = response.headers["set-cookie"]
    assert "pos_kiosk=" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/kiosk" in cookie


async def _scan(
    client: httpx.AsyncClient, lines: str, code: str = "", op: str = ""
) -> tuple[str, str]:
    response = await client.post(
        "/kiosk/cart",
        data={"lines": lines, "code": code, "op": op, "key": "k"},
        headers={"X-Fragment": "cart"},
    )
    assert response.status_code == 200, response.text
    found = re.search(r'name="lines" value="([^"]*)"', response.text)
    assert found
    return response.text, found[1].replace("&#34;", '"')


async def test_an_unpaired_kiosk_shows_the_pairing_form(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    response = await client.get("/kiosk")
    assert response.status_code == 401
    assert 'action="/kiosk/pair"' in response.text


async def test_a_wrong_token_does_not_pair(client: httpx.AsyncClient, kiosk_token: str) -> None:
    response = await client.post("/kiosk/pair", data={"token": "nope"})
    assert response.status_code == 401
    assert "pos_kiosk" not in response.headers.get("set-cookie", "")


async def test_pairing_by_link_drops_the_token_from_the_address(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    response = await client.get("/kiosk/pair", params={"token": kiosk_token})
    assert response.status_code == 303
    assert response.headers["location"] == "/kiosk"
    start = await client.get("/kiosk")
    assert start.status_code == 200
    assert 'id="code"' in start.text
    assert "data-keep-focus" in start.text


async def test_scans_build_a_priced_cart_and_buttons_edit_it(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    html, lines = await _scan(client, "[]", NOODLES)
    assert "¥18.80" in html
    html, lines = await _scan(client, lines, NOODLES)
    assert json.loads(lines) == [{"p": json.loads(lines)[0]["p"], "q": 2}]
    html, lines = await _scan(client, lines, weight_label(CABBAGE_PLU, 1500))
    assert "¥10.20" in html  # 1.5 kg x 6.80
    assert "¥47.80" in html
    html, lines = await _scan(client, lines, op="dec:0")
    assert json.loads(lines)[0]["q"] == 1
    html, lines = await _scan(client, lines, op="del:1")
    assert len(json.loads(lines)) == 1


async def test_a_price_label_keeps_its_amount_through_the_cart_and_checkout(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await Store.update({Store.label_scheme: "price_plu5"}).where(Store.code == LINXIA)
    await _paired(client, kiosk_token)
    label = weight_label(CABBAGE_PLU, 1235)  # the amount layout: 12.35 yuan of cabbage
    html, lines = await _scan(client, "[]", label)
    assert json.loads(lines) == [{"b": label}]
    html, lines = await _scan(client, lines, NOODLES)  # the cart is priced again
    assert "¥31.15" in html  # 12.35 + 18.80, not 1817 g x 6.80 = 12.36
    pay = await client.post("/kiosk/checkout", data={"lines": lines, "key": "kiosk-price-label-1"})
    assert pay.status_code == 200, pay.text
    order = await Order.objects().first()
    assert order is not None
    assert order.total_fen == 3115


async def test_an_unknown_barcode_is_explained_and_changes_nothing(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)
    html, after = await _scan(client, lines, "6900000000000")
    assert 'role="alert"' in html
    assert after == lines


async def test_checkout_shows_a_qr_code_and_a_payment_code_pays(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)
    pay = await client.post("/kiosk/checkout", data={"lines": lines, "key": "kiosk-checkout-0001"})
    assert pay.status_code == 200, pay.text
    assert "<svg" in pay.text
    assert 'name="auth_code"' in pay.text
    action = re.search(r'action="(/kiosk/orders/\d+/code)"', pay.text)
    token = re.search(r'name="token" value="([^"]+)"', pay.text)
    assert action
    assert token
    paid = await client.post(action[1], data={"token": token[1], "auth_code": "134567890123456789"})
    assert paid.status_code == 200, paid.text
    assert "已支付" in paid.text
    await run_outbox()
    status_url = re.search(r'data-status-url="([^"]+)"', paid.text)
    assert status_url
    status = await client.get(status_url[1].replace("&amp;", "&"))
    assert status.status_code == 200
    assert 'data-paid="yes"' in status.text
    # The order's changes are pushed to the screen: its status stream, with the kiosk's token.
    events_url = re.search(r'data-events="([^"]+)"', paid.text)
    assert events_url
    events = await client.get(events_url[1].replace("&amp;", "&"))
    assert events.headers["content-type"].startswith("text/event-stream")
    assert '"state": "paid"' in events.text  # the order is paid: one event, and the stream ends


async def test_a_checkout_the_shopper_cancels_frees_its_stock_and_its_qr_code(
    client: httpx.AsyncClient, demo: Demo, kiosk_token: str
) -> None:
    noodles = (await catalog.products_by_gtin(NOODLES))[0].id
    await inventory.set_level(demo.kiosk_store_id, noodles, 1)
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)
    pay = await client.post("/kiosk/checkout", data={"lines": lines, "key": "kiosk-checkout-0003"})
    cancel = re.search(r'action="(/kiosk/orders/(\d+)/cancel)"', pay.text)
    token = re.search(r'name="token" value="([^"]+)"', pay.text)
    assert cancel
    assert token

    cancelled = await client.post(cancel[1], data={"token": token[1]})

    assert (cancelled.status_code, cancelled.headers["location"]) == (303, "/kiosk")
    order = await Order.select(Order.state).where(Order.id == int(cancel[2])).first()
    assert order == {"state": "closed"}
    assert await Payment.select(Payment.status) == [{"status": "closed"}]
    sandbox = await SandboxPayment.select(SandboxPayment.status).first()
    assert sandbox == {"status": "closed"}  # its QR code can no longer be paid
    again = {"lines": lines, "key": "kiosk-checkout-0004"}
    assert "<svg" in (await client.post("/kiosk/checkout", data=again)).text  # the unit sells


async def _code_form(client: httpx.AsyncClient, key: str) -> tuple[str, int, str]:
    """Check out noodles: where the payment screen posts a payment code, the order's id and
    its token."""
    _, lines = await _scan(client, "[]", NOODLES)
    pay = await client.post("/kiosk/checkout", data={"lines": lines, "key": key})
    action = re.search(r'action="(/kiosk/orders/(\d+)/code)"', pay.text)
    token = re.search(r'name="token" value="([^"]+)"', pay.text)
    assert action
    assert token
    return action[1], int(action[2]), token[1]


async def _paid_by_code(client: httpx.AsyncClient, key: str) -> tuple[int, str]:
    """Check out noodles and pay with a payment code; the order's id and token."""
    action, order_id, token = await _code_form(client, key)
    paid = await client.post(action, data={"token": token, "auth_code": PAYMENT_CODE})
    assert "已支付" in paid.text, paid.text
    return order_id, token


async def _status(client: httpx.AsyncClient, order_id: int, token: str) -> str:
    response = await client.get(f"/kiosk/orders/{order_id}/status", params={"token": token})
    assert response.status_code == 200, response.text
    return response.text


async def test_a_cancel_that_comes_after_the_payment_answers_the_paid_screen(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    order_id, token = await _paid_by_code(client, "kiosk-cancel-late-1")

    cancelled = await client.post(f"/kiosk/orders/{order_id}/cancel", data={"token": token})

    assert cancelled.status_code == 303
    screen = cancelled.headers["location"]
    assert screen == f"/kiosk/orders/{order_id}?token={token}"
    paid = await client.get(screen)
    assert paid.status_code == 200, paid.text
    assert "支付成功" in paid.text
    assert 'id="cancel-form"' not in paid.text
    assert await Order.select(Order.state).where(Order.id == order_id).first() == {"state": "paid"}


async def test_a_paid_order_waiting_for_its_receipt_job_is_not_final(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    order_id, token = await _paid_by_code(client, "kiosk-print-none-1")

    status = await _status(client, order_id, token)  # the worker has not queued the receipt yet

    assert 'data-final="no"' in status
    assert "正在准备小票" in status
    assert "电子小票二维码" not in status


async def test_a_kiosk_without_a_printer_says_so_and_shows_the_e_receipt(
    client: httpx.AsyncClient, kiosk_token: str, settings: Settings
) -> None:
    await Device.update({Device.printer: None}).where(Device.name == "linxia-kiosk-1")
    await Counter.update({Counter.printer: None}).where(Counter.code == "LINXIA-ZONE")
    await _paired(client, kiosk_token)
    order_id, token = await _paid_by_code(client, "kiosk-no-printer-1")

    status = await _status(client, order_id, token)

    assert 'data-final="yes"' in status
    assert "本机不打印小票" in status
    assert 'aria-label="电子小票二维码"' in status
    assert str(qr_svg(receipt_url(settings.public_url, order_id, token))) in status
    english = await client.get(
        f"/kiosk/orders/{order_id}/status", params={"token": token, "lang": "en"}
    )
    assert "This kiosk prints no receipts" in english.text


async def test_a_scanned_qr_code_url_is_explained_and_keeps_the_cart(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)
    html, after = await _scan(client, lines, "https://example.com/p?" + "x" * 64)
    assert 'role="alert"' in html
    assert after == lines


async def _withdraw(product_id: int) -> None:
    """Load the Linxia zone's layout again without the product's listing."""
    certificate_no = (await catalog.get_product(product_id)).certificate_no
    layout = demo_layout(LINXIA)
    kept = [item for item in layout.listings if item.certificate_no != certificate_no]
    assert (
        await apply_layout(layout.model_copy(update={"listings": kept}), changed_by="test")
    ).withdrawn_listings


async def _noodles_and_cabbage(client: httpx.AsyncClient) -> tuple[str, int]:
    _, lines = await _scan(client, "[]", NOODLES)
    _, lines = await _scan(client, lines, weight_label(CABBAGE_PLU, 1500))
    return lines, json.loads(lines)[0]["p"]


async def test_a_product_withdrawn_mid_scan_leaves_the_cart_and_the_rest_stays(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    lines, noodles = await _noodles_and_cabbage(client)
    await _withdraw(noodles)

    html, after = await _scan(client, lines, weight_label(CABBAGE_PLU, 500))

    assert 'data-code="cart_line_dropped"' in html
    assert [line.get("g") for line in json.loads(after)] == [1500, 500]
    assert "¥13.60" in html  # 2 kg x 6.80: the noodles are gone, the new scan is in
    html, after = await _scan(client, after, "6900000000007")
    assert 'data-code="barcode_unknown"' in html
    assert len(json.loads(after)) == 2


async def test_checkout_refuses_a_guessable_key_and_makes_one_when_none_is_sent(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)
    short = await client.post("/kiosk/checkout", data={"lines": lines, "key": "k1"})
    assert short.status_code == 422, "another kiosk's retry could guess it and get that order"
    paid_for = [
        re.findall(r"/kiosk/orders/(\d+)/", (await client.post("/kiosk/checkout", data=form)).text)
        for form in ({"lines": lines}, {"lines": lines, "key": ""})
    ]
    assert all(paid_for)
    assert paid_for[0] != paid_for[1]


async def test_checkout_that_cannot_order_the_cart_shows_it_again_with_the_reason(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    lines, noodles = await _noodles_and_cabbage(client)
    await _withdraw(noodles)

    page = await client.post("/kiosk/checkout", data={"lines": lines, "key": "kiosk-checkout-0002"})

    assert page.status_code == 200, page.text
    assert 'data-code="cart_line_dropped"' in page.text
    assert "¥10.20" in page.text
    assert "<svg" not in page.text
    assert await Order.count() == 0


async def test_a_kiosk_starting_over_goes_back_to_its_own_language(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    """A shopper switched the shared kiosk to English; the next shopper finds it in Chinese."""
    client.headers["Accept-Language"] = "zh-CN"  # the kiosk's browser
    await client.post("/kiosk/pair", data={"token": kiosk_token})
    english = await client.get("/kiosk", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    home = re.search(r'data-home="([^"]+)"', english.text)
    assert home
    # A minute without input: kiosk.js starts over at data-home, for the next shopper.
    next_shopper = await client.get(home[1].replace("&amp;", "&"))
    assert next_shopper.status_code == 200
    assert '<html lang="zh-CN">' in next_shopper.text


async def test_switching_the_kiosk_language_keeps_the_cart(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    lines, _ = await _noodles_and_cabbage(client)

    # kiosk.js posts the scan form, cart and all, to the cart page in the switch's language.
    english = await client.post(
        "/kiosk/cart?lang=en", data={"lines": lines, "code": "", "key": "k"}
    )

    assert english.status_code == 200, english.text
    assert '<html lang="en">' in english.text
    assert "¥29.00" in english.text
    assert re.search(r'<a class="lang" href="/kiosk\?lang=zh" data-keeps-cart', english.text)


async def test_a_refused_payment_code_says_why_in_the_provider_s_words(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    action, _, token = await _code_form(client, "kiosk-checkout-0005")

    refused = await client.post(action, data={"token": token, "auth_code": "134567890123450003"})

    assert refused.status_code == 200, refused.text
    alert = re.search(r'<p class="alert" role="alert">(.*?)</p>', refused.text, re.S)
    assert alert
    assert "insufficient_funds" in alert[1]  # the sandbox's reason, as a real wallet's 余额不足
    assert 'name="auth_code"' in refused.text  # the shopper may try another wallet


async def test_a_payment_code_failing_after_the_pin_says_why_on_the_status(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await _paired(client, kiosk_token)
    action, order_id, token = await _code_form(client, "kiosk-checkout-0006")
    asked = await client.post(action, data={"token": token, "auth_code": "134567890123450004"})
    assert 'role="alert"' not in asked.text  # "user paying": the PIN is asked for on the phone
    assert 'data-pin="waiting"' in asked.text  # the screen's idle reset waits for it
    waiting = await _status(client, order_id, token)
    assert 'role="alert"' not in waiting
    assert 'data-pin="waiting"' in waiting

    while await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=3)):  # the first poll
        pass

    status = await _status(client, order_id, token)
    assert 'data-state="paying"' in status  # the kiosk's QR code may still be paid
    assert 'data-pin="waiting"' not in status
    alert = re.search(r'<p class="alert" role="alert">(.*?)</p>', status, re.S)
    assert alert
    assert "wrong_pin" in alert[1]
    screen = await client.get(f"/kiosk/orders/{order_id}", params={"token": token})
    assert screen.text.count('role="alert"') == 1  # shown once, in the status the page refreshes


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        ("bad_payment_code", "6901234567892"),  # a product's barcode read into the code field
        ("provider_unavailable", PAYMENT_CODE),
    ],
)
async def test_a_payment_code_refused_outright_leaves_the_kiosk_on_its_payment_screen(
    client: httpx.AsyncClient,
    kiosk_token: str,
    monkeypatch: pytest.MonkeyPatch,
    refusal: str,
    code: str,
) -> None:
    await _paired(client, kiosk_token)
    action, order_id, token = await _code_form(client, f"kiosk-refused-{refusal}")
    if refusal == "provider_unavailable":
        sandbox_away(monkeypatch, "charge_code")

    refused = await client.post(action, data={"token": token, "auth_code": code})

    assert refused.status_code == 200, refused.text
    assert f'data-code="{refusal}"' in refused.text
    assert 'name="auth_code"' in refused.text  # the shopper may scan the code again
    assert "/static/js/kiosk.js" in refused.text  # and the idle reset still runs
    assert await Order.select(Order.state).where(Order.id == order_id).first() == {
        "state": "paying"  # its QR code may still be paid
    }


async def test_checkout_with_the_provider_away_still_takes_a_payment_code(
    client: httpx.AsyncClient, kiosk_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_away(monkeypatch, "create")
    await _paired(client, kiosk_token)
    _, lines = await _scan(client, "[]", NOODLES)

    pay = await client.post(
        "/kiosk/checkout", data={"lines": lines, "key": "kiosk-checkout-away-1"}
    )

    assert pay.status_code == 200, pay.text
    assert 'data-code="provider_unavailable"' in pay.text
    action = re.search(r'action="(/kiosk/orders/\d+/code)"', pay.text)
    token = re.search(r'name="token" value="([^"]+)"', pay.text)
    assert action
    assert token
    monkeypatch.undo()
    paid = await client.post(action[1], data={"token": token[1], "auth_code": PAYMENT_CODE})
    assert "已支付" in paid.text
