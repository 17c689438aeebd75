"""What the shopper's phone pages show: a counter's products, an order to pay, the e-receipt.

Each function gathers one page's data from the services; the controllers in `routes` render it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pos.analytics import ratings
from pos.analytics.schemas import RatingIn, RatingOut, RatingsIn
from pos.catalog import service as catalog
from pos.catalog.schemas import ProductOut
from pos.errors import Conflict, InvalidInput, NotFound, PosError
from pos.orders import checkout
from pos.orders import service as orders
from pos.orders.pricing import MAX_LINES
from pos.orders.schemas import CounterOrderIn, LineIn, OrderOut
from pos.orders.states import OrderState
from pos.orders.tokens import counter_qr_token, verify_counter_token
from pos.pages.forms import is_whole_number, order_key, whole_number
from pos.payments import service as payments_service
from pos.payments.provider import PhoneBrowser
from pos.payments.schemas import PaymentOut, StartPayment
from pos.payments.settle import Payments
from pos.payments.wechat_oauth import WeChatOAuth
from pos.stores import listings
from pos.stores import service as stores
from pos.stores.schemas import CounterCatalog, SellableProduct

__all__ = [
    "WEIGHT_STEP_G",
    "OrderPage",
    "ReceiptPage",
    "Refusal",
    "RefusedCart",
    "cancel_phone_order",
    "counter_page",
    "order_from_form",
    "order_page",
    "order_url",
    "rate_from_form",
    "receipt_page",
    "receipt_url",
    "start_phone_payment",
    "wallet_blocked",
    "wechat_sign_in",
]

WEIGHT_STEP_G = 500
PAYABLE = (OrderState.OPEN, OrderState.PAYING)
RECEIPTED = (OrderState.PAID, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED)


# The in-app browser that opens no page of a provider, by the mark in its user agent.
_BLOCKING_BROWSER = {"alipay": "MicroMessenger", "wechat": "AlipayClient"}


def wallet_blocked(provider: str, user_agent: str) -> bool:
    """Whether the browser keeps the shopper from paying by `provider`: WeChat's own browser
    opens no Alipay page, and Alipay's none of WeChat Pay; the phone's browser opens both."""
    mark = _BLOCKING_BROWSER.get(provider)
    return mark is not None and mark in user_agent


def order_url(order_id: int, token: str) -> str:
    """The shopper's page of an order: pay, and watch it get paid."""
    return f"/o/{order_id}?token={token}"


def receipt_url(order_id: int, token: str) -> str:
    """The e-receipt (the printed receipt's QR code opens the same path)."""
    return f"/r/{order_id}?token={token}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the cart was not ordered, and the product that kept it from being (when one did)."""

    code: str
    product: ProductOut | None = None


@dataclass(frozen=True, slots=True)
class RefusedCart:
    """The counter page again, with the amounts chosen and the refusal, and its HTTP status."""

    context: dict[str, Any]
    status: int


async def counter_page(
    counter_id: int,
    token: str,
    *,
    secret: str,
    query: str | None,
    cursor: int | None,
    page_size: int,
    carried: Mapping[str, str],
    refusal: Refusal | None = None,
) -> dict[str, Any]:
    """The counter's products, `page_size` a page, after the QR code's token is checked.

    `carried` holds the amounts chosen so far (`q<product id>` pieces, `g<product id>` grams,
    as the cart form sends them); those chosen on other pages are shown above this page's.
    """
    verify_counter_token(counter_id, token, secret=secret)
    page: CounterCatalog = await listings.counter_catalog(
        counter_id, query=query or None, since=None, cursor=cursor, limit=page_size
    )
    amounts = _chosen(carried)
    return {
        "catalog": page,
        "token": token,
        "query": query or "",
        "order_key": uuid.uuid4().hex,
        "weight_step_g": WEIGHT_STEP_G,
        "amounts": amounts,
        "elsewhere": await _chosen_elsewhere(page, amounts),
        "refusal": refusal,
    }


def _amount_fields(fields: Mapping[str, str]) -> Iterator[tuple[str, int, str]]:
    """The kind (`q` or `g`), product id and value of each amount field that is not empty."""
    for name, value in fields.items():
        kind, digits = name[:1], name[1:]
        if kind in ("q", "g") and is_whole_number(digits) and value.strip():
            yield kind, int(digits), value


def _field(product: SellableProduct) -> str:
    return ("g" if product.unit == "kg" else "q") + str(product.product_id)


def _chosen(fields: Mapping[str, str]) -> dict[str, int]:
    """The amounts above 0 by field name; a value that is no whole number is no amount."""
    chosen: dict[str, int] = {}
    for kind, product_id, value in _amount_fields(fields):
        text = value.strip()
        if is_whole_number(text) and int(text) > 0 and len(chosen) < MAX_LINES:
            chosen[f"{kind}{product_id}"] = int(text)
    return chosen


async def _chosen_elsewhere(
    page: CounterCatalog, amounts: Mapping[str, int]
) -> list[SellableProduct]:
    """The products chosen but not on this page that the counter still sells, in chosen order."""
    shown = {product.product_id for product in page.items}
    ids = [pid for pid in dict.fromkeys(int(field[1:]) for field in amounts) if pid not in shown]
    today = datetime.now(ZoneInfo(page.counter.time_zone)).date()
    sold = await listings.sellable_products(page.counter.store_id, ids, today=today)
    return [sold[pid] for pid in ids if pid in sold and _field(sold[pid]) in amounts]


def _lines_from_form(form: Mapping[str, str]) -> list[LineIn]:
    """`q<product id>` fields are pieces, `g<product id>` fields grams; empty or 0 is no line."""
    lines: list[LineIn] = []
    for kind, product_id, value in _amount_fields(form):
        amount = whole_number(value)
        if amount > 0:
            field = "quantity" if kind == "q" else "weight_g"
            lines.append(LineIn.model_validate({"product_id": product_id, field: amount}))
    if not lines:
        raise InvalidInput("choose at least one product", code="order_empty")
    return lines


async def order_from_form(
    counter_id: int,
    form: Mapping[str, str],
    *,
    secret: str,
    page_size: int,
    spend_try: Callable[[str], Awaitable[None]],
) -> str | RefusedCart:
    """Create the order the counter page's form asks for; the URL of its page.

    `spend_try(key)` counts the order against the client's budget before it is priced.

    When the cart cannot be ordered (too few in stock, a product no longer sold), the counter
    page again with the amounts kept and the reason, naming the product; the page is not
    stored, so going back to it would lose them.
    """
    lines: list[LineIn] = []
    try:
        lines = _lines_from_form(form)
        data = CounterOrderIn(counter_token=form.get("t", ""), lines=lines)
        key = f"page:{order_key(form)}"
        await spend_try(key)
        created = await checkout.create_counter_order(
            counter_id, data, idempotency_key=key, secret=secret
        )
    except (InvalidInput, Conflict) as exc:
        refusal = Refusal(exc.code, await _product_refused(exc, lines))
        page = await counter_page(
            counter_id,
            form.get("t", ""),
            secret=secret,
            query=None,
            cursor=None,
            page_size=page_size,
            carried=form,
            refusal=refusal,
        )
        return RefusedCart(page, exc.status)
    assert created.order.access_token is not None  # a create always answers the token
    return order_url(created.order.id, created.order.access_token)


async def _product_refused(exc: PosError, lines: Sequence[LineIn]) -> ProductOut | None:
    """The product an error is about: its `product_id`, or the product of its `line`."""
    product_id, line = exc.extra.get("product_id"), exc.extra.get("line")
    if product_id is None and isinstance(line, int) and 1 <= line <= len(lines):
        product_id = lines[line - 1].product_id
    if not isinstance(product_id, int):
        return None
    try:
        return await catalog.get_product(product_id)
    except NotFound:
        return None


async def _products(order: OrderOut) -> dict[int, ProductOut]:
    ids = sorted({line.product_id for line in order.lines})
    found = await asyncio.gather(*(catalog.get_product(pid) for pid in ids))
    return {product.id: product for product in found}


@dataclass(frozen=True, slots=True)
class OrderPage:
    """An order as its page shows it, with the payment the shopper opened (if any)."""

    order: OrderOut
    token: str
    products: dict[int, ProductOut]
    time_zone: str
    counter_url: str | None
    payment: PaymentOut | None = None
    refused: str | None = None  # the code of the error that refused the shopper's last try

    @property
    def payable(self) -> bool:
        """Whether the order still waits for money."""
        return self.order.state in PAYABLE

    @property
    def receipted(self) -> bool:
        """Whether the order was paid (it has an e-receipt)."""
        return self.order.state in RECEIPTED

    def context(self, *, blocked_wallet: str | None = None) -> dict[str, Any]:
        """The template context; `blocked_wallet` is the provider the browser cannot pay by."""
        return {
            "blocked_wallet": blocked_wallet,
            "page": self,
            "order": self.order,
            "events_url": f"/api/orders/{self.order.id}/events?token={self.token}",
            "order_url": order_url(self.order.id, self.token),
            "receipt_url": receipt_url(self.order.id, self.token),
            "pay_key": uuid.uuid4().hex,
        }


async def order_page(
    order_id: int, token: str, *, secret: str, payment: PaymentOut | None = None
) -> OrderPage:
    """The order, readable with its access token only."""
    order = await orders.read_order(order_id, token=token, staff_session=None)
    rules, products = await asyncio.gather(stores.store_rules(order.store_id), _products(order))
    counter_url = None
    if order.counter_id is not None:
        counter_token = counter_qr_token(order.counter_id, secret=secret)
        counter_url = f"/c/{order.counter_id}?t={counter_token}"
    return OrderPage(order, token, products, rules.time_zone, counter_url, payment)


async def cancel_phone_order(payments: Payments, order_id: int, token: str) -> str:
    """Close the order and its open payments at its shopper's word; the order page to show."""
    await orders.check_access(order_id, token)
    await payments_service.cancel_order(payments, order_id, actor="shopper")
    return order_url(order_id, token)


async def start_phone_payment(
    payments: Payments,
    order_id: int,
    token: str,
    key: str,
    *,
    secret: str,
    browser: PhoneBrowser | None,
) -> OrderPage:
    """Open a payment the shopper completes on the provider's page; the order page with it.

    Without a `browser` to send there (inside WeChat, which opens no other page to pay, unless
    it signed the shopper in for JSAPI), the payment is a QR code to long-press.
    """
    await orders.check_access(order_id, token)
    method = StartPayment(method="qr" if browser is None else "web")
    try:
        payment = await payments_service.start_payment(
            payments,
            order_id,
            method,
            idempotency_key=f"page:{key}",
            actor="shopper",
            browser=browser,
        )
    except PosError as exc:  # the provider away, the order expired meanwhile: told on its page
        return replace(await order_page(order_id, token, secret=secret), refused=exc.code)
    return await order_page(order_id, token, secret=secret, payment=payment)


async def wechat_sign_in(
    oauth: WeChatOAuth, order_id: int, token: str, key: str, *, public_url: str
) -> str:
    """Where to send a browser inside WeChat: it comes back signed in, to pay by JSAPI."""
    await orders.check_access(order_id, token)
    back = urlencode({"token": token, "key": key})
    return oauth.sign_in_url(f"{public_url.rstrip('/')}/o/{order_id}/wechat-pay?{back}")


@dataclass(frozen=True, slots=True)
class ReceiptPage:
    """A paid order with each product's origin and certificate, and the ratings given."""

    order: OrderPage
    ratings: dict[int, RatingOut]

    @property
    def can_rate(self) -> bool:
        """Whether any line may still be rated."""
        rated_states = (OrderState.PAID, OrderState.PARTIALLY_REFUNDED)
        return self.order.order.state in rated_states and len(self.ratings) < len(
            self.order.order.lines
        )

    def context(self) -> dict[str, Any]:
        """The template context."""
        return {**self.order.context(), "ratings": self.ratings, "can_rate": self.can_rate}


async def receipt_page(order_id: int, token: str, *, secret: str) -> ReceiptPage:
    """The e-receipt of a paid order."""
    page = await order_page(order_id, token, secret=secret)
    given: list[RatingOut] = []
    if page.receipted:
        given = await ratings.order_ratings(order_id, token)
    return ReceiptPage(page, {rating.line_no: rating for rating in given})


def _ratings_from_form(form: Mapping[str, str]) -> RatingsIn:
    """`stars<line no>` and `comment<line no>` fields; a line without stars is not rated."""
    given: list[RatingIn] = []
    for name, value in form.items():
        line_no = name.removeprefix("stars")
        if name.startswith("stars") and is_whole_number(line_no) and is_whole_number(value):
            # A browser counts a line break once for maxlength but sends it as CR LF.
            comment = form.get(f"comment{line_no}", "").replace("\r\n", "\n").strip()
            given.append(RatingIn(line_no=int(line_no), stars=int(value), comment=comment))
    if not given:
        raise InvalidInput("choose stars for at least one product", code="rating_empty")
    return RatingsIn(ratings=given)


async def rate_from_form(order_id: int, token: str, form: Mapping[str, str]) -> str:
    """Record the ratings the e-receipt's form sends; the receipt's URL."""
    await ratings.submit(order_id, token, _ratings_from_form(form))
    return receipt_url(order_id, token) + "#ratings"
