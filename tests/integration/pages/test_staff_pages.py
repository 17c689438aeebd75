from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar

from pos.catalog import service as catalog
from pos.catalog.tables import Product
from pos.db import current_engine
from pos.errors import Unavailable
from pos.inventory import replenishment
from pos.inventory import service as inventory
from pos.inventory.schemas import RestockOrderIn, ThresholdIn
from pos.inventory.tables import CountLine, CountSession, ReceivingLine, RestockOrder
from pos.orders import service as orders
from pos.orders.tables import Order, OrderLine
from pos.pages import dashboard
from pos.payments.provider import RefundResult
from pos.payments.tables import Refund, SandboxPayment
from pos.printing.tables import PrintJob
from pos.settings import Settings
from pos.staff.tables import StaffUser
from pos.stores import service as stores
from pos.stores.tables import ListingPriceChange, Store
from pos.worker import register_handlers
from tests.helpers.shop import weight_label
from tests.helpers.staff import add_printer
from tests.integration.pages.conftest import Demo, run_outbox

pytestmark = pytest.mark.anyio

NOODLES = "6903120028012"
CABBAGE = "FPC-622921-2026-0001"  # Linxia baby cabbage, sold by the kg
CABBAGE_PLU = "20001"  # its PLU on the Linxia zone's scale labels
_EN = {"Accept-Language": "en"}


async def _login(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post(
        "/staff/login", data={"username": username, "password": f"{username}-demo"}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"


async def test_pages_send_a_signed_out_user_to_the_login_form(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    response = await client.get(f"/staff/stores/{demo.subway_store_id}")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login"


async def test_a_wrong_password_is_said_plainly(client: httpx.AsyncClient, demo: Demo) -> None:
    response = await client.post("/staff/login", data={"username": "manager", "password": "x"})
    assert response.status_code == 401
    assert "用户名或密码不对" in response.text


async def test_the_manager_sees_stores_alerts_and_the_backlog(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")
    home = await client.get("/staff")
    assert "吕厝站" in home.text
    assert "/staff/dashboard" in home.text
    store = await client.get(f"/staff/stores/{demo.subway_store_id}")
    assert store.status_code == 200, store.text
    assert 'id="alerts"' in store.text
    assert "上报扶贫平台" in store.text


async def test_the_manager_sees_the_store_s_price_changes(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")
    page = (await client.get(f"/staff/stores/{demo.subway_store_id}")).text
    prices = page.split('id="prices"')[1]
    assert "¥25.80" in prices  # the station's own price of its bamboo shoots (demo layout)
    assert "pos demo · store layout stores.json" in prices
    await _login(client, "restocker")
    assert 'id="prices"' not in (await client.get(f"/staff/stores/{demo.subway_store_id}")).text


async def test_the_store_s_price_changes_name_the_manager_who_made_them(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")
    manager = await _user_id("manager")
    await ListingPriceChange.update({ListingPriceChange.changed_by: f"staff:{manager}"}, force=True)

    page = (await client.get(f"/staff/stores/{demo.subway_store_id}")).text

    prices = page.split('id="prices"')[1]
    who = f'<span title="staff:{manager}" translate="no">陈经理 (head office manager)</span>'
    assert f"{who} · store layout stores.json" in prices


async def test_a_restocker_receives_a_shipment_by_scanning(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    noodles = await _noodles_id()
    before = (await inventory.get_level(store, noodles)).on_hand
    started = await client.post(f"/staff/stores/{store}/receiving", data={"key": "r1"})
    assert started.status_code == 303, started.text
    session = started.headers["location"]
    scanned = await client.post(
        f"{session}/scan",
        data={"code": NOODLES, "quantity": "12", "lot": "L2026-11", "expires_on": "2027-06-30"},
    )
    assert scanned.status_code == 303, scanned.text
    page = await client.get(session)
    assert "L2026-11" in page.text
    confirmed = await client.post(f"{session}/confirm")
    assert confirmed.status_code == 303
    assert "已确认入库" in (await client.get(session)).text
    assert (await inventory.get_level(store, noodles)).on_hand == before + 12


async def test_a_best_before_day_keeps_the_batch_sellable_until_the_day_ends(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    zone = ZoneInfo((await stores.store_rules(store)).time_zone)
    day = datetime.now(zone).date() + timedelta(days=3)
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    scan = {"code": NOODLES, "lot": "BB-1", "expires_on": day.isoformat()}
    assert (await client.post(f"{session}/scan", data=scan)).status_code == 303
    [line] = await ReceivingLine.select(ReceivingLine.expires_at).where(ReceivingLine.lot == "BB-1")
    # A batch counts as expired from its expires_at on: the day must end first.
    assert line["expires_at"] == datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


async def test_a_best_before_day_at_the_calendar_s_end_is_refused_with_a_message(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    scan = {"code": NOODLES, "lot": "BB-9", "expires_on": "9999-12-31"}

    refused = await client.post(f"{session}/scan", data=scan)

    assert refused.status_code == 422, refused.text
    assert await ReceivingLine.count() == 0


async def test_a_refused_receiving_scan_shows_its_form_again_with_what_was_typed(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    typed = {"code": "6903120028999", "quantity": "24", "lot": "L-77", "expires_on": "2027-01-31"}

    refused = await client.post(f"{session}/scan", data=typed)

    assert refused.status_code == 404, refused.text
    assert "本专区不销售这件商品" in refused.text
    assert f'action="{session}/scan"' in refused.text
    for field in ("quantity", "lot", "expires_on"):
        assert re.search(rf'<input id="{field}" [^>]*value="{typed[field]}"', refused.text), field
    assert not re.search(r'<input id="code" [^>]*value=', refused.text)  # the next scan types there
    assert await ReceivingLine.count() == 0


async def _receiving_with_noodles(client: httpx.AsyncClient, store: int, lot: str) -> str:
    """A receiving with 12 noodles of `lot` scanned, best before in 3 days: its page."""
    day = datetime.now(ZoneInfo((await stores.store_rules(store)).time_zone)).date()
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    scan = {"code": NOODLES, "quantity": "12", "lot": lot, "expires_on": str(day + timedelta(3))}
    assert (await client.post(f"{session}/scan", data=scan)).status_code == 303
    return str(session)


async def test_a_receiving_whose_batch_expired_meanwhile_is_refused_saying_why(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    before = (await inventory.get_level(store, await _noodles_id())).on_hand
    session = await _receiving_with_noodles(client, store, "EXP-1")
    past = datetime.now(UTC) - timedelta(minutes=1)  # the receiving sat open past its expiry
    await ReceivingLine.update({ReceivingLine.expires_at: past}).where(ReceivingLine.lot == "EXP-1")

    refused = await client.post(f"{session}/confirm", headers=_EN)

    assert refused.status_code == 422, refused.text
    assert "past its expiry date" in refused.text
    assert "receiving_expired" in refused.text
    assert "Open: scan each item" in (await client.get(session, headers=_EN)).text
    assert (await inventory.get_level(store, await _noodles_id())).on_hand == before


async def test_a_receiving_line_set_to_0_with_a_note_lets_the_rest_be_confirmed(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    before = (await inventory.get_level(store, await _noodles_id())).on_hand
    session = await _receiving_with_noodles(client, store, "EXP-2")
    [line] = await ReceivingLine.select(ReceivingLine.id).where(ReceivingLine.lot == "EXP-2")
    past = datetime.now(UTC) - timedelta(minutes=1)
    await ReceivingLine.update({ReceivingLine.expires_at: past}).where(ReceivingLine.lot == "EXP-2")
    page = (await client.get(session)).text
    assert f'action="{session}/lines/{line["id"]}"' in page

    kept = await client.post(f"{session}/lines/{line['id']}", data={"quantity": "12", "note": ""})
    declined = {"quantity": "0", "note": "expired on arrival"}
    set_to_0 = await client.post(f"{session}/lines/{line['id']}", data=declined)

    assert kept.status_code == 422, kept.text
    assert 'data-code="receiving_expired"' in kept.text  # shown on the page, with its lines
    assert set_to_0.status_code == 303, set_to_0.text
    assert (await client.post(f"{session}/confirm")).status_code == 303
    assert "expired on arrival" in (await client.get(session)).text
    assert (await inventory.get_level(store, await _noodles_id())).on_hand == before


async def test_a_receiving_line_s_best_before_day_is_corrected_on_its_form(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.subway_store_id
    zone = ZoneInfo((await stores.store_rules(store)).time_zone)
    session = await _receiving_with_noodles(client, store, "FIX-1")
    [line] = await ReceivingLine.select(ReceivingLine.id).where(ReceivingLine.lot == "FIX-1")
    typo = datetime(2025, 3, 1, tzinfo=zone)  # the year mistyped
    await ReceivingLine.update({ReceivingLine.expires_at: typo}).where(ReceivingLine.lot == "FIX-1")
    page = (await client.get(session, headers=_EN)).text
    assert "2025-03-01 00:00" in page  # the expiry the line has, in the store's time
    assert re.search(rf'action="{session}/lines/{line["id"]}">.*name="expires_on"', page)
    form = f"{session}/lines/{line['id']}"
    day = datetime.now(zone).date() + timedelta(days=30)

    still_past = await client.post(form, data={"quantity": "12", "expires_on": "2025-12-31"})
    corrected = await client.post(
        form, data={"quantity": "12", "note": "year misprinted", "expires_on": day.isoformat()}
    )

    assert still_past.status_code == 422, still_past.text
    assert 'data-code="receiving_expired"' in still_past.text
    assert corrected.status_code == 303, corrected.text
    [fixed] = await ReceivingLine.select(ReceivingLine.expires_at, ReceivingLine.note).where(
        ReceivingLine.id == line["id"]
    )
    assert fixed["expires_at"] == datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    was = typo.astimezone(UTC).isoformat()
    assert fixed["note"] == f"year misprinted; corrected from expires_at {was}"
    kept = await client.post(form, data={"quantity": "11", "note": fixed["note"]})  # no day
    assert kept.status_code == 303, kept.text
    [after] = await ReceivingLine.select(ReceivingLine.expires_at, ReceivingLine.note).where(
        ReceivingLine.id == line["id"]
    )
    assert after == fixed


async def test_the_receiving_page_names_who_scanned_each_line(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    session = await _receiving_with_noodles(client, demo.subway_store_id, "WHO-1")
    [line] = await ReceivingLine.select(ReceivingLine.scanned_by).where(
        ReceivingLine.lot == "WHO-1"
    )

    page = (await client.get(session, headers=_EN)).text

    assert line["scanned_by"].startswith("staff:")
    assert '<th scope="col">Scanned by</th>' in page
    restocker = "林师傅 (restocker, Lvcuo station)"
    assert f'<td><span title="{line["scanned_by"]}" translate="no">{restocker}</span></td>' in page


async def test_a_refused_count_scan_shows_its_form_again_with_the_quantity_typed(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.kiosk_store_id
    session = (await client.post(f"/staff/stores/{store}/counts")).headers["location"]
    typed = {"code": weight_label(CABBAGE_PLU, 500), "quantity": "500"}

    refused = await client.post(f"{session}/scan", data=typed)

    assert refused.status_code == 422, refused.text
    assert "重量标签已带克数" in refused.text
    assert re.search(r'<input id="quantity" [^>]*value="500"', refused.text)
    assert await CountLine.count() == 0


async def _form_key(client: httpx.AsyncClient, page: str) -> str:
    """The key the page's scan form sends."""
    found = re.search(r'name="key" value="([^"]+)"', (await client.get(page)).text)
    assert found
    return found[1]


async def test_a_receiving_scan_sent_twice_adds_its_units_once(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    started = await client.post(f"/staff/stores/{demo.subway_store_id}/receiving", data={})
    session = started.headers["location"]
    scan = {"code": NOODLES, "quantity": "12", "key": await _form_key(client, session)}
    for _ in range(2):  # the tablet lost the first answer and sent the form again
        assert (await client.post(f"{session}/scan", data=scan)).status_code == 303
    assert re.search(r'<td class="num">12 件</td>', (await client.get(session)).text)
    assert await _form_key(client, session) != scan["key"]  # the next scan is another


async def test_a_count_scan_sent_twice_adds_its_units_once(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    started = await client.post(f"/staff/stores/{demo.subway_store_id}/counts")
    session = started.headers["location"]
    scan = {"code": NOODLES, "quantity": "58", "key": await _form_key(client, session)}
    for _ in range(2):
        assert (await client.post(f"{session}/scan", data=scan)).status_code == 303
    await client.post(f"{session}/finish")
    level = await inventory.get_level(demo.subway_store_id, await _noodles_id())
    assert level.on_hand == 58


async def test_a_count_started_twice_from_one_page_opens_one_count(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = f"/staff/stores/{demo.subway_store_id}"
    start = {"key": await _form_key(client, store)}

    first = await client.post(f"{store}/counts", data=start)
    again = await client.post(f"{store}/counts", data=start)

    assert first.headers["location"] == again.headers["location"]
    assert await CountSession.count() == 1


async def test_a_cashier_may_not_receive_goods(client: httpx.AsyncClient, demo: Demo) -> None:
    await _login(client, "cashier")
    response = await client.post(f"/staff/stores/{demo.kiosk_store_id}/receiving", data={})
    assert response.status_code == 403


async def test_a_count_shows_the_variance(client: httpx.AsyncClient, demo: Demo) -> None:
    await _login(client, "restocker")
    started = await client.post(f"/staff/stores/{demo.subway_store_id}/counts")
    assert started.status_code == 303
    session = started.headers["location"]
    await client.post(f"{session}/scan", data={"code": NOODLES, "quantity": "58"})
    page = await client.get(session)
    assert re.search(r'<td class="num">-2 件</td>', page.text), page.text
    finished = await client.post(f"{session}/finish")
    assert finished.status_code == 303
    level = await inventory.get_level(demo.subway_store_id, await _noodles_id())
    assert level.on_hand == 58


async def test_a_restocker_receives_weighed_produce_by_its_scale_label(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.kiosk_store_id
    cabbage = await _cabbage_id()
    before = (await inventory.get_level(store, cabbage)).on_hand
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]

    # The crate weighed on the store's scale: 12.5 kg under the cabbage's PLU.
    scan = {"code": weight_label(CABBAGE_PLU, 12500), "quantity": ""}
    scanned = await client.post(f"{session}/scan", data=scan)

    assert scanned.status_code == 303, scanned.text
    assert (await client.post(f"{session}/confirm")).status_code == 303
    assert (await inventory.get_level(store, cabbage)).on_hand == before + 12500


async def test_received_and_counted_produce_shows_in_kg_and_packs_in_pieces(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = f"/staff/stores/{demo.kiosk_store_id}"
    receiving = (await client.post(f"{store}/receiving", data={})).headers["location"]
    count = (await client.post(f"{store}/counts")).headers["location"]
    for session in (receiving, count):
        crate = {"code": weight_label(CABBAGE_PLU, 12500), "quantity": ""}
        assert (await client.post(f"{session}/scan", data=crate)).status_code == 303

    received = (await client.get(receiving, headers=_EN)).text
    counted = (await client.get(count)).text

    assert re.search(r'<td class="num">12.5 kg</td><td class="num">12.5 kg</td>', received)
    assert re.search(r'<td class="num">12.5 千克</td><td class="num">[0-9.]+ 千克</td>', counted)


async def test_a_count_adds_up_the_grams_of_each_crate_s_weight_label(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "restocker")
    store = demo.kiosk_store_id
    session = (await client.post(f"/staff/stores/{store}/counts")).headers["location"]
    for grams in (30000, 45500):
        scan = {"code": weight_label(CABBAGE_PLU, grams), "quantity": ""}
        assert (await client.post(f"{session}/scan", data=scan)).status_code == 303

    await client.post(f"{session}/finish")

    assert (await inventory.get_level(store, await _cabbage_id())).on_hand == 75500


async def test_a_price_label_names_the_produce_and_the_restocker_enters_its_grams(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.kiosk_store_id
    await Store.update({Store.label_scheme: "price_plu5"}).where(Store.id == store)
    await _login(client, "restocker")
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    label = weight_label(CABBAGE_PLU, 1235)  # the amount layout: 12.35 yuan, grams unknown

    refused = await client.post(f"{session}/scan", data={"code": label, "quantity": ""})
    weighed = await client.post(f"{session}/scan", data={"code": label, "quantity": "1800"})

    assert refused.status_code == 422
    assert "请扫描它的重量标签，或在数量中输入克数" in refused.text
    assert weighed.status_code == 303, weighed.text
    lines = await ReceivingLine.select(ReceivingLine.product, ReceivingLine.quantity)
    assert lines == [{"product": await _cabbage_id(), "quantity": 1800}]


async def test_produce_scanned_by_its_barcode_needs_its_grams(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    packed = "6903120028999"  # a barcode on the cabbage's crate, priced by the kg all the same
    await Product.update({Product.gtin: packed}).where(Product.certificate_no == CABBAGE)
    await _login(client, "restocker")
    store = demo.kiosk_store_id
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]

    refused = await client.post(f"{session}/scan", data={"code": packed, "quantity": ""})
    weighed = await client.post(f"{session}/scan", data={"code": packed, "quantity": "9000"})

    assert refused.status_code == 422
    assert "请扫描它的重量标签，或在数量中输入克数" in refused.text
    assert weighed.status_code == 303, weighed.text
    lines = await ReceivingLine.select(ReceivingLine.product, ReceivingLine.quantity)
    assert lines == [{"product": await _cabbage_id(), "quantity": 9000}]


def _misread(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ({"code": weight_label(CABBAGE_PLU, 500), "quantity": "500"}, "重量标签已带克数"),
        ({"code": weight_label("29999", 500)}, "本专区不销售这件商品"),
        ({"code": _misread(weight_label(CABBAGE_PLU, 500))}, "条码校验失败"),
    ],
    ids=["grams_typed_too", "unknown_plu", "check_digit"],
)
async def test_a_scale_label_the_count_cannot_take_is_refused_with_a_message(
    client: httpx.AsyncClient, demo: Demo, scan: dict[str, str], message: str
) -> None:
    await _login(client, "restocker")
    store = demo.kiosk_store_id
    session = (await client.post(f"/staff/stores/{store}/counts")).headers["location"]

    refused = await client.post(f"{session}/scan", data=scan)

    assert refused.status_code == 422
    assert message in refused.text
    assert await CountLine.count() == 0


async def _noodles_id() -> int:
    return (await catalog.products_by_gtin(NOODLES))[0].id


async def _cabbage_id() -> int:
    return (await catalog.product_ids_by_certificate([CABBAGE]))[CABBAGE]


async def _kiosk_sale(
    client: httpx.AsyncClient, kiosk_token: str, settings: Settings, packs: int = 1
) -> str:
    """Packs of noodles (18.80 each) bought and paid at the demo's kiosk, its events handled.

    Returns the order id.
    """
    register_handlers(settings)
    await client.post("/kiosk/pair", data={"token": kiosk_token})
    lines = "[]"
    for _ in range(packs):
        cart = await client.post(
            "/kiosk/cart", data={"lines": lines, "code": NOODLES}, headers={"X-Fragment": "cart"}
        )
        found = re.search(r'name="lines" value="([^"]*)"', cart.text)
        assert found
        lines = found[1].replace("&#34;", '"')
    pay = await client.post("/kiosk/checkout", data={"lines": lines, "key": "kiosk-checkout-c001"})
    action = re.search(r'action="(/kiosk/orders/(\d+)/code)"', pay.text)
    token = re.search(r'name="token" value="([^"]+)"', pay.text)
    assert action
    assert token
    await client.post(action[1], data={"token": token[1], "auth_code": "134567890123456789"})
    await run_outbox()
    return action[2]


async def test_a_cashier_finds_an_order_reprints_and_refunds_it(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    await _login(client, "cashier")
    store = demo.kiosk_store_id
    found = await client.get(f"/staff/stores/{store}/orders", params={"number": order_id})
    assert found.status_code == 200, found.text
    assert "¥18.80" in found.text
    reprinted = await client.post(
        f"/staff/stores/{store}/orders/{order_id}/reprint", data={"key": "rp1"}
    )
    assert reprinted.status_code == 303, reprinted.text
    refunded = await client.post(
        f"/staff/stores/{store}/orders/{order_id}/refund",
        data={"amount": "18.80", "reason": "broken bag", "key": "rf1"},
    )
    assert refunded.status_code == 303, refunded.text
    await run_outbox()
    after = await client.get(refunded.headers["location"])
    assert "退款已提交" in after.text
    history = after.text.split('class="lines history"')[1]
    states = re.findall(r"<td>([^<]+)</td><td><span title=", history)
    assert (states[0], states[-2:]) == ("待支付", ["已支付", "已退款"]), states
    assert "1880 fen: broken bag" in history


async def test_the_order_history_names_the_kiosk_the_provider_and_the_cashier_who_refunded(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    await _login(client, "cashier")
    page = f"/staff/stores/{demo.kiosk_store_id}/orders"
    refund = {"amount": "18.80", "reason": "broken bag", "key": "rf-who"}
    assert (await client.post(f"{page}/{order_id}/refund", data=refund)).status_code == 303
    await run_outbox()
    kiosk = (await stores.device_ids_of([demo.kiosk_store_id]))["linxia-kiosk-1"]
    cashier = await _user_id("cashier")

    found = await client.get(page, params={"number": order_id}, headers=_EN)

    history = found.text.split('class="lines history"')[1]
    assert f'<span title="device:{kiosk}">linxia-kiosk-1 (self-checkout kiosk)</span>' in history
    assert '<span title="payments">Payment provider</span>' in history
    assert (
        f'<span title="staff:{cashier}" translate="no">黄小姐 (cashier, Linxia zone)</span>'
        in history
    )
    assert not re.search(r">(staff|device|counter):", history)


async def _user_id(username: str) -> int:
    return int(
        (await StaffUser.select(StaffUser.id).where(StaffUser.username == username))[0]["id"]
    )


async def test_a_sale_that_printed_no_receipt_gets_one_from_the_tablet(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    await run_outbox()
    await PrintJob.delete(force=True)  # as if the kiosk had had no printer at the sale
    await _login(client, "cashier")
    store = demo.kiosk_store_id
    reprinted = await client.post(
        f"/staff/stores/{store}/orders/{order_id}/reprint", data={"key": "rp1"}
    )
    assert reprinted.status_code == 303, reprinted.text
    jobs = await PrintJob.select(PrintJob.kind, PrintJob.order)
    assert jobs == [{"kind": "reprint", "order": int(order_id)}]


async def test_the_cashier_chooses_the_printer_of_a_reprint_and_a_refund_slip(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    store = demo.kiosk_store_id
    desk = await add_printer(store, "tcp://127.0.0.1:9", name="服务台")
    await _login(client, "cashier")
    found = await client.get(f"/staff/stores/{store}/orders", params={"number": order_id})
    assert found.text.count(f'<option value="{desk}">服务台</option>') == 2
    orders_path = f"/staff/stores/{store}/orders/{order_id}"
    await client.post(f"{orders_path}/reprint", data={"key": "rp1", "printer": str(desk)})
    refunded = await client.post(
        f"{orders_path}/refund",
        data={"amount": "1.00", "reason": "dented", "key": "rf1", "printer": str(desk)},
    )
    assert refunded.status_code == 303, refunded.text
    await run_outbox()
    jobs = await PrintJob.select(PrintJob.kind, PrintJob.printer).where(PrintJob.kind != "receipt")
    assert sorted((job["kind"], job["printer"]) for job in jobs) == [
        ("refund", desk),
        ("reprint", desk),
    ]


async def test_a_cashier_prints_a_failed_receipt_again_or_cancels_it(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    await _kiosk_sale(client, kiosk_token, settings)
    await run_outbox()
    store = demo.kiosk_store_id
    failed = {PrintJob.state: "failed", PrintJob.last_error: "printer_unreachable: refused"}
    await PrintJob.update(failed).where(PrintJob.kind == "receipt")
    (job,) = await PrintJob.select(PrintJob.id)
    await _login(client, "cashier")
    page = await client.get(f"/staff/stores/{store}")
    assert "打印失败 · printer_unreachable: refused" in page.text
    jobs = f"/staff/stores/{store}/print-jobs/{job['id']}"
    assert f'action="{jobs}/retry"' in page.text

    retried = await client.post(f"{jobs}/retry")
    cancelled = await client.post(f"{jobs}/cancel")

    assert retried.headers["location"] == f"/staff/stores/{store}#printers"
    assert cancelled.status_code == 303, cancelled.text
    assert await PrintJob.select(PrintJob.state).first() == {"state": "cancelled"}
    assert "打印机正常" in (await client.get(f"/staff/stores/{store}")).text


async def test_a_cancel_the_tablet_sends_again_with_its_key_is_not_an_error(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    await _kiosk_sale(client, kiosk_token, settings)
    await run_outbox()
    store = demo.kiosk_store_id
    await PrintJob.update({PrintJob.state: "failed"}).where(PrintJob.kind == "receipt")
    (job,) = await PrintJob.select(PrintJob.id)
    await _login(client, "cashier")
    page = (await client.get(f"/staff/stores/{store}")).text
    cancel = f"/staff/stores/{store}/print-jobs/{job['id']}/cancel"
    form = re.search(rf'action="{cancel}"><input type="hidden" name="key" value="([^"]+)"', page)
    assert form, page

    first = await client.post(cancel, data={"key": form[1]})
    again = await client.post(cancel, data={"key": form[1]})

    assert (first.status_code, again.status_code) == (303, 303), again.text
    assert await PrintJob.select(PrintJob.state).first() == {"state": "cancelled"}


async def test_a_partial_refund_puts_back_only_the_goods_returned(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings, packs=2)
    store, noodles = demo.kiosk_store_id, await _noodles_id()
    sold_out = (await inventory.get_level(store, noodles)).on_hand
    await _login(client, "cashier")
    page = f"/staff/stores/{store}/orders"
    found = await client.get(page, params={"number": order_id})
    assert re.search(rf'name="back_{noodles}"[^>]* max="2"', found.text), found.text
    refund = f"{page}/{order_id}/refund"
    one_back = {"amount": "18.80", "reason": "one pack torn", "key": "rf1", f"back_{noodles}": "1"}
    assert (await client.post(refund, data=one_back)).status_code == 303
    await run_outbox()
    assert (await inventory.get_level(store, noodles)).on_hand == sold_out + 1
    after = await client.get(page, params={"number": order_id})
    assert re.search(rf'name="back_{noodles}"[^>]* max="1"', after.text), after.text
    too_many = {"amount": "18.80", "reason": "rest", "key": "rf2", f"back_{noodles}": "2"}
    refused = await client.post(refund, data=too_many)
    assert refused.status_code == 422
    assert (await inventory.get_level(store, noodles)).on_hand == sold_out + 1
    assert (await orders.get_order(int(order_id))).refunded_fen == 1880
    # A form naming only goods back on the shelf pays for them, as the API's default does.
    assert await Refund.select(Refund.returned).output(load_json=True) == [
        {"returned": {str(noodles): 1}}
    ]
    assert await _noodle_line_refunds() == {"refunded_fen": 1880, "returned_units": 1}


async def _noodle_line_refunds() -> dict[str, Any]:
    """What refunds took of the kiosk sale's one line (two packs of noodles)."""
    line = await OrderLine.select(OrderLine.refunded_fen, OrderLine.returned_units).first()
    assert line is not None
    return line


async def test_a_refund_for_goods_thrown_away_pays_for_them_and_leaves_the_shelf_alone(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings, packs=2)
    store, noodles = demo.kiosk_store_id, await _noodles_id()
    sold_out = (await inventory.get_level(store, noodles)).on_hand
    await _login(client, "cashier")
    page = f"/staff/stores/{store}/orders"
    found = await client.get(page, params={"number": order_id})
    assert re.search(rf'name="returned_{noodles}"[^>]* max="2"', found.text), found.text
    spoiled = {
        "amount": "18.80",
        "reason": "spoiled, thrown away",
        "key": "rf1",
        f"returned_{noodles}": "1",
        f"back_{noodles}": "0",
    }

    refunded = await client.post(f"{page}/{order_id}/refund", data=spoiled)
    await run_outbox()

    assert refunded.status_code == 303, refunded.text
    assert (await inventory.get_level(store, noodles)).on_hand == sold_out
    assert await Refund.select(Refund.restock, Refund.returned).output(load_json=True) == [
        {"restock": {}, "returned": {str(noodles): 1}}
    ]
    assert await _noodle_line_refunds() == {"refunded_fen": 1880, "returned_units": 1}
    after = (await client.get(page, params={"number": order_id})).text
    # One pack is paid back: one more may be, and only a pack paid back may go on the shelf.
    assert re.search(rf'name="returned_{noodles}"[^>]* max="1"', after), after
    assert re.search(rf'name="back_{noodles}"[^>]* max="1"', after), after


@pytest.mark.parametrize(
    ("paid", "back", "message"),
    [
        ("1", "2", "More units are put back on the shelf than the refund pays for."),
        ("", "1", "More units are put back on the shelf than the refund pays for."),
        ("3", "0", "The refund pays for more units than the order sold and has not refunded"),
    ],
)
async def test_goods_the_refund_cannot_pay_for_are_refused_with_a_message(
    paying_client: httpx.AsyncClient,
    demo: Demo,
    kiosk_token: str,
    settings: Settings,
    paid: str,
    back: str,
    message: str,
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings, packs=2)
    store, noodles = demo.kiosk_store_id, await _noodles_id()
    sold_out = (await inventory.get_level(store, noodles)).on_hand
    await _login(client, "cashier")
    form = {
        "amount": "18.80",
        "reason": "torn",
        "key": "rf1",
        f"returned_{noodles}": paid,
        f"back_{noodles}": back,
    }

    refused = await client.post(
        f"/staff/stores/{store}/orders/{order_id}/refund", data=form, headers=_EN
    )

    assert refused.status_code == 422, refused.text
    assert message in refused.text
    assert await Refund.count() == 0
    assert (await inventory.get_level(store, noodles)).on_hand == sold_out


async def test_a_cashier_sees_a_refund_the_provider_refused_and_resolves_it(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    await SandboxPayment.update({SandboxPayment.status: "closed"}, force=True)
    await _login(client, "cashier")
    store_page = f"/staff/stores/{demo.kiosk_store_id}"
    refund = {"amount": "18.80", "reason": "bag torn", "key": "rf1"}
    await client.post(f"{store_page}/orders/{order_id}/refund", data=refund)
    refused = await Refund.objects().first()
    assert refused is not None
    alerts = await client.get(store_page)
    assert "退款失败，款项仍在商户" in alerts.text
    # How much is still owed, why, and the number to find it by on the merchant platform.
    assert f"退款 ¥18.80（bag torn），退款单号 {refused.out_refund_no}" in alerts.text
    action = re.search(
        r'action="(/staff/stores/\d+/payments/\d+/refunds/(\d+)/resolve)"', alerts.text
    )
    assert action, alerts.text
    assert int(action[2]) == refused.id
    resolved = await client.post(action[1], data={"note": "退了现金"})
    assert resolved.status_code == 303, resolved.text
    assert "退款失败，款项仍在商户" not in (await client.get(store_page)).text
    refund_row = await Refund.objects().get(Refund.id == refused.id)
    assert refund_row is not None
    assert (refund_row.flag, refund_row.flag_note) == ("refund_failed", "退了现金")
    assert refund_row.flag_resolved_by is not None


async def test_two_flagged_refunds_of_a_payment_are_resolved_one_at_a_time(
    paying_client: httpx.AsyncClient,
    app: Litestar,
    demo: Demo,
    kiosk_token: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings, packs=2)
    answers = [RefundResult("succeeded", "5030001", stranded=True), RefundResult("failed")]

    async def scripted(*_: object) -> RefundResult:
        return answers.pop(0)  # the payer's card was closed: ABNORMAL, then a refusal

    monkeypatch.setattr(app.state["payments"].provider, "refund", scripted)
    await _login(client, "cashier")
    store_page = f"/staff/stores/{demo.kiosk_store_id}"
    for key, reason in (("rf1", "dented"), ("rf2", "bruised")):
        refund = {"amount": "18.80", "reason": reason, "key": key}
        await client.post(f"{store_page}/orders/{order_id}/refund", data=refund)
    refund_form = r'action="(/staff/stores/\d+/payments/\d+/refunds/\d+/resolve)"'

    page = (await client.get(store_page)).text
    actions = re.findall(refund_form, page)
    assert len(actions) == 2, page
    assert "（bruised）" in page
    assert "（dented）" in page
    # Newest first: the refused refund, then the stranded one.
    resolved = await client.post(actions[1], data={"note": "在商户平台转给顾客"})
    assert resolved.status_code == 303, resolved.text

    page = (await client.get(store_page)).text
    assert re.findall(refund_form, page) == [actions[0]]
    assert "（bruised）" in page
    assert "（dented）" not in page


async def test_the_dashboard_shows_figures_and_charts(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")
    page = await client.get("/staff/dashboard")
    assert page.status_code == 200, page.text
    chart = re.search(r'src="(/api/analytics/charts/sales.svg[^"]+)"', page.text)
    assert chart
    svg = await client.get(chart[1].replace("&amp;", "&"))
    assert svg.status_code == 200
    assert svg.text.startswith("<svg")


async def test_the_dashboard_tells_a_cashier_it_is_for_managers(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "cashier")

    page = await client.get("/staff/dashboard", headers={"Accept-Language": "en"})

    assert page.status_code == 403
    assert "Your role does not allow this here." in page.text


async def test_too_many_sign_in_attempts_say_so_and_when_to_try_again(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    wrong = {"username": "cashier", "password": "not-the-password"}
    for _ in range(10):
        await client.post("/staff/login", data=wrong)

    page = await client.post("/staff/login", data=wrong, headers={"Accept-Language": "en"})

    assert page.status_code == 429
    assert "Too many attempts; wait a minute and try again." in page.text
    assert int(page.headers["ratelimit-reset"]) > 0  # seconds until the next try


@pytest.mark.parametrize("number", ["²²²²²²²²", "2612031" + "9" * 20])
async def test_an_order_number_that_is_no_order_id_gets_a_message(
    client: httpx.AsyncClient, demo: Demo, number: str
) -> None:
    await _login(client, "manager")
    url = f"/staff/stores/{demo.subway_store_id}/orders"
    response = await client.get(url, params={"number": number})
    assert response.status_code == 422
    assert "订单号只有数字" in response.text


@pytest.mark.parametrize("quantity", ["²", "9" * 5000])
async def test_a_counted_quantity_that_is_not_plain_digits_gets_a_message(
    client: httpx.AsyncClient, demo: Demo, quantity: str
) -> None:
    await _login(client, "manager")
    started = await client.post(f"/staff/stores/{demo.subway_store_id}/counts")
    scan = started.headers["location"] + "/scan"
    response = await client.post(scan, data={"code": NOODLES, "quantity": quantity})
    assert response.status_code == 422
    assert "请输入整数" in response.text


async def _low_on_noodles(store_id: int) -> int:
    noodles = await _noodles_id()
    await replenishment.set_threshold(
        store_id, noodles, ThresholdIn(min_level=80, target_level=100)
    )
    return noodles


async def test_a_manager_orders_a_low_stock_suggestion_and_ends_orders_on_the_tablet(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.subway_store_id
    noodles = await _low_on_noodles(store)
    await _login(client, "manager")
    page = (await client.get(f"/staff/stores/{store}")).text
    suggested = (await replenishment.low_stock(store))[0].suggested
    assert f'name="product_{noodles}" value="{suggested}"' in page

    form = {f"product_{noodles}": "30", f"product_{noodles + 1}": " ", "key": "restock-1"}
    for _ in range(2):  # a double tap places one order
        ordered = await client.post(f"/staff/stores/{store}/restock-orders", data=form)
        assert ordered.status_code == 303, ordered.text
    [order] = await replenishment.restock_orders(store_id=store)
    assert [(line.product_id, line.quantity) for line in order.lines] == [(noodles, 30)]
    page = (await client.get(f"/staff/stores/{store}")).text
    assert 'id="restock"' in page
    cancel = f"/staff/stores/{store}/restock-orders/{order.id}/cancel"
    assert f'action="{cancel}"' in page
    assert (await client.post(cancel)).status_code == 303
    [order] = await replenishment.restock_orders(store_id=store)
    assert order.status == "cancelled"

    form = {f"product_{noodles}": "20", "key": "restock-2"}
    await client.post(f"/staff/stores/{store}/restock-orders", data=form)
    shipped = (await replenishment.restock_orders(store_id=store))[0]
    await replenishment.ship_order(shipped.id)
    close = f"/staff/stores/{store}/restock-orders/{shipped.id}/close"
    assert f'action="{close}"' in (await client.get(f"/staff/stores/{store}")).text
    assert (await client.post(close)).status_code == 303
    assert (await replenishment.restock_orders(store_id=store))[0].status == "closed"


async def test_an_order_of_nothing_or_of_no_number_gets_a_message(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.subway_store_id
    noodles = await _low_on_noodles(store)
    await _login(client, "manager")
    for quantity in ("0", "²"):
        form = {f"product_{noodles}": quantity, "key": f"k{quantity}"}
        refused = await client.post(f"/staff/stores/{store}/restock-orders", data=form)
        assert refused.status_code in (400, 422), refused.text
    assert await replenishment.restock_orders(store_id=store) == []


async def test_a_restocker_sees_restock_orders_but_may_not_order_or_end_them(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.subway_store_id
    noodles = await _low_on_noodles(store)
    data = RestockOrderIn.model_validate({"lines": [{"product_id": noodles, "quantity": 5}]})
    [order] = await replenishment.place_orders(store, data, actor="staff:1", idempotency_key=None)
    await _login(client, "restocker")
    page = (await client.get(f"/staff/stores/{store}")).text
    assert 'id="restock"' in page
    assert f"/restock-orders/{order.id}/cancel" not in page
    assert f'action="/staff/stores/{store}/restock-orders"' not in page
    refused = await client.post(f"/staff/stores/{store}/restock-orders/{order.id}/cancel")
    assert refused.status_code == 403


async def test_after_a_refund_the_tablet_shows_the_refunded_order_even_past_order_id_999999(
    paying_client: httpx.AsyncClient, demo: Demo, kiosk_token: str, settings: Settings
) -> None:
    """A busy installation passes a million orders; the page the refund leads to is that order's."""
    client = paying_client
    # The orders so far reached id 999999 (a placeholder row stands for them).
    await Order.raw(
        "INSERT INTO orders (id, store, state, idempotency_scope_key) VALUES "
        "(999999, {}, 'closed', 'placeholder-of-earlier-orders')",
        demo.kiosk_store_id,
    )
    order_id = int(await _kiosk_sale(client, kiosk_token, settings))
    assert order_id == 1_000_000
    await _login(client, "cashier")
    store = demo.kiosk_store_id
    refunded = await client.post(
        f"/staff/stores/{store}/orders/{order_id}/refund",
        data={"amount": "18.80", "reason": "bag torn", "key": "rf-million"},
    )
    assert refunded.status_code == 303, refunded.text
    after = await client.get(refunded.headers["location"])
    assert after.status_code == 200, (refunded.headers["location"], after.status_code)
    number = (await Order.select(Order.number).where(Order.id == order_id).first())["number"]
    assert number in after.text


# 06:30 on 4 December in Xiamen; the server's clock runs in UTC, where it is still the 3rd.
_EARLY_MORNING = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)


class _UtcServerDate(date):
    @classmethod
    def today(cls) -> date:
        return _EARLY_MORNING.date()


class _UtcServerDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return _EARLY_MORNING.astimezone(tz) if tz else _EARLY_MORNING.replace(tzinfo=None)


async def test_the_dashboard_s_default_period_ends_on_the_store_s_today(
    client: httpx.AsyncClient, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager opening the dashboard at 06:30 in Xiamen sees today's (4 December) sales."""
    monkeypatch.setattr(dashboard, "date", _UtcServerDate)
    monkeypatch.setattr(dashboard, "datetime", _UtcServerDatetime)
    await _login(client, "manager")
    page = await client.get("/staff/dashboard")
    assert page.status_code == 200, page.text
    date_to = re.search(r'id="date_to" name="date_to" type="date" value="([^"]+)"', page.text)
    assert date_to
    assert date_to[1] == "2026-12-04"


async def test_a_dashboard_period_ending_in_year_one_starts_with_the_calendar(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    # date_to alone: the page counts 30 days back from it, which would be before date.min.
    await _login(client, "manager")

    page = await client.get("/staff/dashboard", params={"date_to": "0001-01-01"})

    assert page.status_code == 200, page.text  # not a 500: no date before 0001-01-01


@pytest.mark.parametrize("session", ["counts", "receiving"])
async def test_head_office_cannot_start_a_session_at_a_store_that_does_not_exist(
    client: httpx.AsyncClient, demo: Demo, session: str
) -> None:
    await _login(client, "manager")

    page = await client.post(f"/staff/stores/999999/{session}", data={"key": "k"})

    assert page.status_code == 403, page.text  # as for any store the page cannot show
    assert "store_not_found" in page.text


async def test_head_office_cannot_order_restock_for_a_store_that_does_not_exist(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")
    form = {f"product_{await _noodles_id()}": "5", "key": "k"}

    page = await client.post("/staff/stores/999999/restock-orders", data=form, headers=_EN)

    assert page.status_code == 403, page.text  # as for any store the page cannot show
    assert "No such store." in page.text


async def test_an_open_restock_order_shows_behind_200_newer_closed_ones(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.subway_store_id
    noodles = await _low_on_noodles(store)
    data = RestockOrderIn.model_validate({"lines": [{"product_id": noodles, "quantity": 5}]})
    [open_order] = await replenishment.place_orders(store, data, actor="t", idempotency_key=None)
    supplier = (await catalog.get_product(noodles)).supplier_id
    await RestockOrder.insert(
        *(RestockOrder(store=store, supplier=supplier, status="closed") for _ in range(200))
    )
    await _login(client, "manager")

    page = (await client.get(f"/staff/stores/{store}")).text

    assert f"/restock-orders/{open_order.id}/cancel" in page


def _refunds_stay_with_the_provider(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    async def processing(*_: object) -> RefundResult:
        return RefundResult("processing")  # as WeChat answers while it is still refunding

    monkeypatch.setattr(app.state["payments"].provider, "refund", processing)


async def test_the_refund_form_offers_only_what_no_pending_refund_takes_already(
    paying_client: httpx.AsyncClient,
    app: Litestar,
    demo: Demo,
    kiosk_token: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = paying_client
    order_id = await _kiosk_sale(client, kiosk_token, settings, packs=2)
    _refunds_stay_with_the_provider(app, monkeypatch)
    await _login(client, "cashier")
    page = f"/staff/stores/{demo.kiosk_store_id}/orders"
    refund = f"{page}/{order_id}/refund"
    one_pack = {"amount": "18.80", "reason": "one pack torn", "key": "rf1"}
    assert (await client.post(refund, data=one_pack)).status_code == 303

    found = (await client.get(page, params={"number": order_id})).text
    assert 'name="amount" inputmode="decimal" value="18.80"' in found, found

    back_one = {**one_pack, "key": "rf1b", "amount": "0.01", "back_" + _product_in(found): "1"}
    assert (await client.post(refund, data=back_one)).status_code == 303
    found = (await client.get(page, params={"number": order_id})).text
    assert 'max="1" value="0"' in found, "one of the two packs is on its way back already"
    paid = rf'name="returned_{_product_in(found)}"[^>]* max="1"'
    assert re.search(paid, found), "and paid back: one more may be"

    the_other = {"amount": "18.79", "reason": "the other torn", "key": "rf2"}
    assert (await client.post(refund, data=the_other)).status_code == 303
    found = (await client.get(page, params={"number": order_id}, headers=_EN)).text
    assert f'action="{refund}"' not in found
    assert "Refunds of ¥37.60 are still with the payment provider" in found


def _product_in(refund_form: str) -> str:
    found = re.search(r'name="back_(\d+)"', refund_form)
    assert found is not None, "the refund form offers goods back"
    return found[1]


@pytest.mark.parametrize("period", [{"date_from": "", "date_to": ""}, {"date_to": ""}])
async def test_an_empty_dashboard_date_means_the_default_period(
    client: httpx.AsyncClient, demo: Demo, period: dict[str, str]
) -> None:
    await _login(client, "manager")

    page = await client.get("/staff/dashboard", params=period)

    assert page.status_code == 200, page.text
    default = await client.get("/staff/dashboard")
    assert _dashboard_period(page.text) == _dashboard_period(default.text)


def _dashboard_period(page: str) -> list[str]:
    return re.findall(r'name="date_(?:from|to)" type="date" value="([^"]*)"', page)


@pytest.mark.parametrize(
    ("period", "code"),
    [
        ({"date_from": "2026-13-01"}, "form_date"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "period_reversed"),
    ],
)
async def test_a_dashboard_period_that_is_none_shows_the_form_with_a_message(
    client: httpx.AsyncClient, demo: Demo, period: dict[str, str], code: str
) -> None:
    await _login(client, "manager")

    page = await client.get("/staff/dashboard", params=period, headers=_EN)

    assert page.status_code == 422
    assert 'id="date_from"' in page.text
    assert f'data-code="{code}"' in page.text


async def test_pages_have_their_forms_name_this_server_as_their_origin(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    # Under "no-referrer" a browser sends `Origin: null` with a form, which tells nothing.
    page = await client.get("/staff/login")

    assert page.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(
    "sent_from",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://pos.test:8080"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/staff"},
    ],
)
async def test_a_staff_post_from_another_origin_is_refused_with_a_page_saying_so(
    client: httpx.AsyncClient, demo: Demo, sent_from: dict[str, str]
) -> None:
    await _login(client, "manager")
    store = demo.subway_store_id

    refused = await client.post(f"/staff/stores/{store}/counts", headers={**sent_from, **_EN})

    assert refused.status_code == 403
    assert "This form was sent from another site" in refused.text
    assert await CountSession.count() == 0


async def test_the_api_refuses_a_change_from_another_origin_as_the_pages_do(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    await _login(client, "manager")  # the API takes the pages' session cookie
    sibling = {"Origin": "http://pos.test:8080"}  # same site: the SameSite=Strict cookie goes

    refused = await client.post(
        f"/api/stores/{demo.subway_store_id}/inventory/counts", headers=sibling
    )

    assert (refused.status_code, refused.json()["code"]) == (403, "cross_origin")
    assert await CountSession.count() == 0


async def test_a_sign_in_from_another_origin_signs_nobody_in(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    form = {"username": "manager", "password": "manager-demo"}

    refused = await client.post(
        "/staff/login", data=form, headers={"Origin": "http://evil.example"}
    )

    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers


@pytest.mark.parametrize("path", ["/staff/login", "/api/staff/session"])
@pytest.mark.parametrize(
    "sent_from",
    [  # no browser sends these, but any client may: an unclosed IPv6 bracket parses as no URL
        {"Origin": "http://[::1"},
        {"Referer": "http://[/staff/login"},
        {"Origin": "http://evil.example", "Host": "["},
    ],
)
async def test_a_sign_in_naming_an_origin_that_is_no_url_is_refused_not_an_error(
    client: httpx.AsyncClient, demo: Demo, path: str, sent_from: dict[str, str]
) -> None:
    form = {"username": "manager", "password": "manager-demo"}

    refused = await client.post(path, data=form, headers=sent_from)

    assert refused.status_code == 403, refused.text
    assert "set-cookie" not in refused.headers


@pytest.mark.parametrize(
    "sent_from",
    [
        {"Origin": "http://pos.test"},  # the Host the request was sent to
        {"Origin": "https://pos.test"},  # through a proxy that ends TLS
        {"Referer": "http://pos.test/staff/login"},
        {},  # neither: no browser sent it, so no cookie of another user came with it
    ],
)
async def test_a_staff_post_from_the_server_s_own_origin_is_accepted(
    client: httpx.AsyncClient, demo: Demo, sent_from: dict[str, str]
) -> None:
    form = {"username": "manager", "password": "manager-demo"}

    signed_in = await client.post("/staff/login", data=form, headers=sent_from)

    assert signed_in.status_code == 303, signed_in.text


async def test_a_public_url_spelling_out_its_default_port_names_the_browsers_origin(
    app: Litestar, client: httpx.AsyncClient, demo: Demo
) -> None:
    settings = app.state["settings"].model_copy(update={"public_url": "https://pos.example:443"})
    app.state["settings"] = settings
    form = {"username": "manager", "password": "manager-demo"}
    sent = {"Origin": "https://pos.example", "Host": "10.0.0.5:8000"}  # behind a TLS proxy

    assert (await client.post("/staff/login", data=form, headers=sent)).status_code == 303


async def test_a_staff_post_from_the_public_url_is_accepted(
    client: httpx.AsyncClient, demo: Demo, settings: Settings
) -> None:
    form = {"username": "manager", "password": "manager-demo"}
    public = httpx.URL(settings.public_url)
    origin = {"Origin": f"{public.scheme}://{public.netloc.decode()}", "Host": "10.0.0.5:8000"}

    signed_in = await client.post("/staff/login", data=form, headers=origin)

    assert signed_in.status_code == 303, signed_in.text


def _product_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements that read the product table from now on."""
    engine = type(current_engine())
    run = engine.run_querystring
    seen: list[str] = []

    async def counted(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        if re.search(r'FROM "product"', str(querystring)):
            seen.append(str(querystring))
        return await run(self, querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", counted)
    return seen


async def test_a_count_page_reads_the_units_of_all_its_products_at_once(
    client: httpx.AsyncClient, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _login(client, "restocker")
    store = f"/staff/stores/{demo.kiosk_store_id}"
    count = (await client.post(f"{store}/counts")).headers["location"]
    for code in (NOODLES, weight_label(CABBAGE_PLU, 12500)):
        assert (await client.post(f"{count}/scan", data={"code": code})).status_code == 303
    queries = _product_queries(monkeypatch)

    page = await client.get(count)

    assert page.status_code == 200, page.text
    assert "12.5 千克" in page.text
    assert len(queries) == 1, queries


async def test_the_store_s_low_stock_and_expiring_produce_show_in_kg(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.kiosk_store_id
    cabbage = await _cabbage_id()
    await replenishment.set_threshold(
        store, cabbage, ThresholdIn(min_level=900_000, target_level=1_000_000)
    )
    await _login(client, "restocker")
    zone = ZoneInfo((await stores.store_rules(store)).time_zone)
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    session = (await client.post(f"/staff/stores/{store}/receiving", data={})).headers["location"]
    crate = {"code": weight_label(CABBAGE_PLU, 12500), "lot": "CAB-1", "expires_on": str(tomorrow)}
    assert (await client.post(f"{session}/scan", data=crate)).status_code == 303
    assert (await client.post(f"{session}/confirm")).status_code == 303
    [low] = [item for item in await replenishment.low_stock(store) if item.product_id == cabbage]

    page = (await client.get(f"/staff/stores/{store}", headers=_EN)).text

    available, suggested = f"{low.available / 1000:g} kg", f"{low.suggested / 1000:g} kg"
    assert f'<td class="num">{available}</td><td class="num">900 kg</td>' in page, page
    assert f'<td class="num">{suggested}</td>' in page
    assert re.search(r'<td>CAB-1</td><td>[^<]+</td><td class="num">12.5 kg</td>', page)


async def test_the_manager_orders_produce_in_grams_the_field_says_so(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.kiosk_store_id
    cabbage = await _cabbage_id()
    await replenishment.set_threshold(
        store, cabbage, ThresholdIn(min_level=900_000, target_level=1_000_000)
    )
    await _login(client, "manager")

    page = (await client.get(f"/staff/stores/{store}", headers=_EN)).text

    [low] = [item for item in await replenishment.low_stock(store) if item.product_id == cabbage]
    field = f'name="product_{cabbage}" value="{low.suggested}"'
    assert re.search(field + r'[^>]*> ?<span class="per">g</span>', page), page


async def _overdue_refund(
    client: httpx.AsyncClient,
    app: Litestar,
    store_id: int,
    kiosk_token: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """A sale refunded on the tablet that the provider was still processing when its checks
    ended; the store page, where the cashier is signed in."""
    order_id = await _kiosk_sale(client, kiosk_token, settings)
    _refunds_stay_with_the_provider(app, monkeypatch)
    await _login(client, "cashier")
    store_page = f"/staff/stores/{store_id}"
    refund = {"amount": "18.80", "reason": "bag torn", "key": "rf1"}
    assert (
        await client.post(f"{store_page}/orders/{order_id}/refund", data=refund)
    ).status_code == 303
    # As three days of checks leave it (pos.payments.polling).
    await Refund.update({Refund.flag: "refund_overdue"}, force=True)
    return store_page


_CHECK_FORM = re.compile(
    r'<form method="post" action="(/staff/stores/\d+/payments/\d+/refunds/\d+/check)">'
    r'<input type="hidden" name="key" value="([^"]+)">'
)


def _provider_answers(
    app: Litestar, monkeypatch: pytest.MonkeyPatch, answer: RefundResult | Exception
) -> list[object]:
    """The provider answers a refund query with `answer` from now on; lists the queries."""
    asked: list[object] = []

    async def query(*args: object) -> RefundResult:
        asked.append(args)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(app.state["payments"].provider, "query_refund", query)
    return asked


@pytest.mark.parametrize(
    ("answer", "status", "said"),
    [
        (RefundResult("succeeded", "WX-R-1"), "succeeded", "已完成：支付机构已将款项退回顾客"),
        (RefundResult("processing"), "pending", "仍在支付机构处理中"),
        (RefundResult("failed"), "failed", "款项仍在商户，请用其他方式退给顾客"),
    ],
)
async def test_a_cashier_checks_an_overdue_refund_again_and_reads_what_the_provider_said(
    paying_client: httpx.AsyncClient,
    app: Litestar,
    demo: Demo,
    kiosk_token: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    answer: RefundResult,
    status: str,
    said: str,
) -> None:
    client = paying_client
    store_page = await _overdue_refund(
        client, app, demo.kiosk_store_id, kiosk_token, settings, monkeypatch
    )
    page = (await client.get(store_page)).text
    assert "再次查询" in page
    form = _CHECK_FORM.search(page)
    assert form, page
    asked = _provider_answers(app, monkeypatch, answer)

    checked = await client.post(form[1], data={"key": form[2]})
    again = await client.post(form[1], data={"key": form[2]})  # the tap sent twice

    assert checked.status_code == again.status_code == 200, checked.text
    [refund] = await Refund.objects()
    assert refund.status == status
    assert f"退款 {refund.out_refund_no}（¥18.80）" in checked.text
    assert said in checked.text
    assert said in again.text
    assert len(asked) == 1
    # A refund still processing can be checked again; a settled one is no longer overdue.
    assert bool(_CHECK_FORM.search(checked.text)) == (status == "pending")


async def test_checking_again_while_the_provider_does_not_answer_says_so_on_the_store_page(
    paying_client: httpx.AsyncClient,
    app: Litestar,
    demo: Demo,
    kiosk_token: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = paying_client
    store_page = await _overdue_refund(
        client, app, demo.kiosk_store_id, kiosk_token, settings, monkeypatch
    )
    form = _CHECK_FORM.search((await client.get(store_page)).text)
    assert form
    no_answer = Unavailable("WeChat Pay did not answer", code="provider_unavailable")
    _provider_answers(app, monkeypatch, no_answer)

    checked = await client.post(form[1], data={"key": form[2]}, headers=_EN)

    assert checked.status_code == 503
    assert 'data-code="provider_unavailable"' in checked.text
    assert "The payment provider is not answering; please try again in a moment." in checked.text
    assert 'id="flagged"' in checked.text, "the store page, to check again from"
    assert _CHECK_FORM.search(checked.text)
    assert await Refund.select(Refund.status, Refund.flag) == [
        {"status": "pending", "flag": "refund_overdue"}
    ]


@pytest.mark.parametrize(
    ("came_from", "back"),
    [
        ("{store}?lang=en", "{store}?lang=en"),
        ("{store}/orders?number=42", "{store}/orders?number=42"),
        # The answer to a form, shown in place: no page to go back to.
        ("{store}/payments/1/refunds/1/check", "{store}"),
        ("/staff/no-such-page", "{store}"),
    ],
)
async def test_a_refused_tablet_post_offers_the_way_back_to_the_page_it_came_from(
    client: httpx.AsyncClient, demo: Demo, came_from: str, back: str
) -> None:
    store = f"/staff/stores/{demo.subway_store_id}"
    noodles = await _low_on_noodles(demo.subway_store_id)
    await _login(client, "manager")
    order = {f"product_{noodles}": "0", "key": "k0"}
    referer = {"Referer": "http://pos.test" + came_from.format(store=store)}

    refused = await client.post(f"{store}/restock-orders", data=order, headers={**referer, **_EN})

    assert refused.status_code == 422, refused.text
    assert f'<a class="button" href="{back.format(store=store)}">Back</a>' in refused.text


async def test_a_refused_tablet_post_without_its_page_offers_the_way_back_to_the_store(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    store = demo.subway_store_id
    noodles = await _low_on_noodles(store)
    await _login(client, "manager")
    order = {f"product_{noodles}": "0", "key": "k0"}

    refused = await client.post(f"/staff/stores/{store}/restock-orders", data=order)

    assert refused.status_code == 422, refused.text
    assert f'<a class="button" href="/staff/stores/{store}">返回</a>' in refused.text
