"""What the self-checkout kiosk shows: the scanned cart, the payment screen, paid and printed.

The kiosk holds a device bearer token in an HttpOnly cookie set by pairing (`/kiosk/pair`), so
the page's script never sees it. The cart lives in the page as canonical lines
(`[{"p": product id, "q": pieces} | {"p": product id, "g": grams}]`); each scan sends them with
the new code and gets them back priced and merged by the server, which is the only one pricing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from pos.catalog import service as catalog
from pos.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, PosError
from pos.orders import checkout
from pos.orders import service as orders
from pos.orders.pricing import MAX_QUANTITY
from pos.orders.products import price_lines
from pos.orders.schemas import LineIn, OrderIn, OrderOut
from pos.orders.states import OrderState
from pos.pages.forms import is_whole_number
from pos.pages.rendering import qr_svg
from pos.payments import service as payments_service
from pos.payments.schemas import StartPayment
from pos.payments.settle import Payments
from pos.printing import service as printing
from pos.printing.job_actions import order_jobs
from pos.printing.receipts import receipt_url
from pos.staff import service as staff_service
from pos.staff.actors import DeviceActor
from pos.stores import listings
from pos.stores import service as stores

__all__ = [
    "KIOSK_COOKIE",
    "UNPAIRED_CODES",
    "CartLine",
    "CartView",
    "PayView",
    "ShownLine",
    "StatusView",
    "apply_button",
    "kiosk_cancel",
    "kiosk_cart",
    "kiosk_checkout",
    "kiosk_device",
    "kiosk_order",
    "kiosk_pay_code",
    "kiosk_place",
    "kiosk_status",
    "parse_lines",
]

KIOSK_COOKIE = "pos_kiosk"
UNPAIRED_CODES = frozenset({"kiosk_not_paired", "token_invalid", "wrong_device_kind"})
MAX_CART_LINES = 100


class CartLine(BaseModel):
    """A canonical line of the kiosk's cart: a product with pieces or grams, or a price label."""

    p: int | None = None
    q: int | None = Field(default=None, ge=1)
    g: int | None = Field(default=None, ge=1)
    b: str | None = Field(default=None, max_length=64)  # priced by its label, scanned again


_LINES = TypeAdapter(list[CartLine])


async def kiosk_device(token: str | None) -> DeviceActor:
    """The kiosk the cookie's token belongs to; NotAuthenticated when it is missing or revoked."""
    if not token:
        raise NotAuthenticated("this kiosk is not paired", code="kiosk_not_paired")
    actor = await staff_service.device_for_token(token)
    if actor.kind != "kiosk":
        raise Forbidden("this token is not a kiosk's", code="wrong_device_kind")
    return actor


async def kiosk_place(actor: DeviceActor) -> dict[str, Any]:
    """The counter (and store) names the kiosk shows in its header."""
    if actor.counter_id is None:
        return {"counter": None}
    return {"counter": await listings.get_counter(actor.counter_id)}


def parse_lines(text: str) -> list[CartLine]:
    """The cart's canonical lines as the page sent them back."""
    try:
        lines = _LINES.validate_json(text or "[]")
    except ValidationError:
        raise InvalidInput("the cart could not be read", code="kiosk_cart_invalid") from None
    if len(lines) > MAX_CART_LINES:
        raise InvalidInput("the cart is full", code="order_too_many_lines")
    return lines


def apply_button(lines: list[CartLine], op: str) -> list[CartLine]:
    """A cart button: `inc:<i>`, `dec:<i>`, `del:<i>` or `clear`."""
    action, _, index_text = op.partition(":")
    if action == "clear":
        return []
    if not is_whole_number(index_text) or int(index_text) >= len(lines):
        return lines
    index = int(index_text)
    line = lines[index]
    if action == "del" or (action == "dec" and (line.q or 0) <= 1):
        return lines[:index] + lines[index + 1 :]
    if action in ("inc", "dec") and line.q is not None:
        # Plus stops at the most a line may hold: past it pricing would refuse, and drop, the line.
        quantity = min(line.q + 1, MAX_QUANTITY) if action == "inc" else line.q - 1
        changed = line.model_copy(update={"q": quantity})
        return [*lines[:index], changed, *lines[index + 1 :]]
    return lines


def _line_in(line: CartLine) -> LineIn:
    if line.b is not None:
        return LineIn(barcode=line.b)
    return LineIn(product_id=line.p, quantity=line.q, weight_g=line.g)


@dataclass(frozen=True, slots=True)
class ShownLine:
    """A priced line as the kiosk shows it."""

    product_id: int
    name_zh: str
    name_en: str
    unit: Literal["piece", "kg"]
    quantity: int | None
    weight_g: int | None
    unit_price_fen: int
    total_fen: int
    price_label: str | None = None


@dataclass(frozen=True, slots=True)
class CartView:
    """The cart after a scan or a button: its lines, total, and what went wrong (if anything)."""

    lines: tuple[ShownLine, ...] = ()
    total_fen: int = 0
    error_code: str | None = None

    @property
    def lines_json(self) -> str:
        """The canonical lines the page sends back with the next scan."""
        canonical = [_canonical(line) for line in self.lines]
        return json.dumps(canonical, separators=(",", ":"))


def _canonical(line: ShownLine) -> dict[str, int | str | None]:
    """A cart line as `CartLine` reads it back: its price label, else its pieces or grams."""
    if line.price_label is not None:
        return {"b": line.price_label}
    if line.quantity is not None:
        return {"p": line.product_id, "q": line.quantity}
    return {"p": line.product_id, "g": line.weight_g}


async def _priced(store_id: int, lines: list[LineIn], error_code: str | None) -> CartView:
    if not lines:
        return CartView(error_code=error_code)
    rules = await stores.store_rules(store_id)
    sale = await price_lines(store_id, lines, rules)
    ids = sorted({line.product.id for line in sale.order.lines})
    products = {p.id: p for p in await asyncio.gather(*(catalog.get_product(i) for i in ids))}
    shown = tuple(
        ShownLine(
            product_id=line.product.id,
            name_zh=line.product.name_zh,
            name_en=products[line.product.id].name_en,
            unit=line.product.unit,
            quantity=line.quantity,
            weight_g=line.weight_g,
            unit_price_fen=line.unit_price_fen,
            total_fen=line.total_fen,
            price_label=line.price_label,
        )
        for line in sale.order.lines
    )
    return CartView(shown, sale.order.total_fen, error_code)


async def kiosk_cart(actor: DeviceActor, lines_json: str, code: str, op: str) -> CartView:
    """The cart with a button applied and the scanned `code` added; a bad scan changes nothing."""
    lines = [_line_in(line) for line in apply_button(parse_lines(lines_json), op)]
    code = "".join(code.split())
    try:
        scanned = _scanned(code) if code else None
    except InvalidInput as exc:
        return await _priced_cart(actor.store_id, lines, error_code=exc.code)
    return await _priced_cart(actor.store_id, lines, scanned)


async def _priced_cart(
    store_id: int, lines: list[LineIn], scanned: LineIn | None = None, error_code: str | None = None
) -> CartView:
    """The cart priced with `scanned` added, keeping what still sells.

    A cart line that no longer prices (its product withdrawn, say) leaves the cart, saying so;
    a scan that does not price is not added, saying why.
    """
    while True:
        try:
            return await _priced(store_id, [*lines, *([scanned] if scanned else [])], error_code)
        except PosError as exc:
            at = exc.extra.get("line")
            if isinstance(at, int) and 1 <= at <= len(lines):
                lines, error_code = [*lines[: at - 1], *lines[at:]], "cart_line_dropped"
            elif scanned is not None:
                scanned, error_code = None, exc.code
            else:
                raise


def _scanned(code: str) -> LineIn:
    try:
        return LineIn(barcode=code)
    except ValidationError:  # longer than any barcode: a QR code's URL, say
        raise InvalidInput(f"{code!r} is not a product barcode", code="barcode_format") from None


@dataclass(frozen=True, slots=True)
class PaymentsNow:
    """What the screen shows of an order's payments while the order may still be paid."""

    qr: Markup | None = None  # the QR code of the kiosk's payment still open
    failure: str | None = None  # why the latest failed ("": the provider did not say)
    awaiting_pin: bool = False  # a payment code waits for its payer's PIN ("user paying")


_PAYABLE = (OrderState.OPEN, OrderState.PAYING)


async def _payments_now(order: OrderOut) -> PaymentsNow:
    if order.state not in _PAYABLE:
        return PaymentsNow()
    payments = await payments_service.order_payments(order.id)
    qr_urls = [payment.qr_url for payment in payments if payment.qr_url]
    return PaymentsNow(
        qr_svg(qr_urls[-1]) if qr_urls else None,
        payments_service.last_failure(payments),
        # Pending: the provider answered "user paying" (a charge it has not answered is created).
        any(p.method == "code" and p.status == "pending" for p in payments),
    )


@dataclass(frozen=True, slots=True)
class PayView:
    """The payment screen: the order, a QR code to scan, and the payer-code field."""

    order: OrderOut
    token: str
    payments: PaymentsNow = PaymentsNow()
    names: dict[int, str] = field(default_factory=dict)
    refused: str | None = None  # the code of the error that refused the shopper's last try

    @property
    def status_url(self) -> str:
        """Where the page's script reads the order's state and its receipt's printing."""
        return f"/kiosk/orders/{self.order.id}/status?token={self.token}"

    @property
    def events_url(self) -> str:
        """The order's status stream, which tells the page when to read its status again."""
        return f"/api/orders/{self.order.id}/events?token={self.token}"


async def _product_names(order: OrderOut) -> dict[int, str]:
    ids = sorted({line.product_id for line in order.lines})
    return {p.id: p.name_en for p in await asyncio.gather(*(catalog.get_product(i) for i in ids))}


async def kiosk_checkout(
    actor: DeviceActor, lines_json: str, key: str, *, secret: str, payments: Payments
) -> PayView | CartView:
    """Order the cart and open a QR payment beside the payer-code field.

    When the cart cannot be ordered (a product withdrawn, not enough stock), the cart again with
    the reason, keeping what still sells.
    """
    lines = [_line_in(line) for line in parse_lines(lines_json)]
    try:
        created = await checkout.create_kiosk_order(
            actor, OrderIn(lines=lines), idempotency_key=f"kiosk:{key}", secret=secret
        )
    except (InvalidInput, Conflict) as exc:
        return await _priced_cart(actor.store_id, lines, error_code=exc.code)
    order, token = created.order, created.order.access_token
    assert token is not None  # a create always answers the token
    try:
        payment = await payments_service.start_payment(
            payments,
            order.id,
            StartPayment(method="qr"),
            idempotency_key=f"kiosk-qr:{order.id}",
            actor=actor.name,
        )
    except PosError as exc:  # the provider away: a payment code may still pay, once it is back
        return replace(await kiosk_order(actor, order.id, token), refused=exc.code)
    qr = qr_svg(payment.qr_url) if payment.qr_url else None
    return PayView(order, token, PaymentsNow(qr), await _product_names(order))


async def _kiosk_order(actor: DeviceActor, order_id: int, token: str) -> OrderOut:
    await orders.check_access(order_id, token)
    order = await orders.get_order(order_id)
    if order.store_id != actor.store_id:
        raise Forbidden("this order belongs to another store", code="other_store")
    return order


async def kiosk_pay_code(
    actor: DeviceActor, order_id: int, token: str, auth_code: str, *, payments: Payments
) -> PayView:
    """Charge the payment code the shopper shows to the scanner; a refusal (a misread code, the
    provider away, the order expired meanwhile) is told on the order's screen as it stands."""
    await _kiosk_order(actor, order_id, token)
    code = "".join(auth_code.split())
    try:
        await payments_service.start_payment(
            payments,
            order_id,
            StartPayment(method="code", auth_code=code),
            idempotency_key=f"kiosk-code:{order_id}:{code}",
            actor=actor.name,
        )
    except PosError as exc:
        return replace(await kiosk_order(actor, order_id, token), refused=exc.code)
    return await kiosk_order(actor, order_id, token)


async def kiosk_order(actor: DeviceActor, order_id: int, token: str) -> PayView:
    """The order's screen as it is now: a cancel that came after the payment answers it; its QR
    code while that payment is open, also after a payment code failed beside it."""
    order = await _kiosk_order(actor, order_id, token)
    return PayView(order, token, await _payments_now(order), await _product_names(order))


async def kiosk_cancel(actor: DeviceActor, order_id: int, token: str, *, payments: Payments) -> str:
    """Close the order the shopper walked away from, so its stock sells at once.

    Where the kiosk goes next: its start screen, or the order's screen if it was paid meanwhile.
    """
    await _kiosk_order(actor, order_id, token)
    state = await payments_service.cancel_order(payments, order_id, actor=actor.name)
    return "/kiosk" if state == OrderState.CLOSED else f"/kiosk/orders/{order_id}?token={token}"


# "none": no receipt job yet; "no_printer": none will come, neither the kiosk nor its counter
# has a printer.
PrintState = Literal[
    "none", "queued", "sending", "printed", "waiting", "failed", "cancelled", "no_printer"
]


@dataclass(frozen=True, slots=True)
class StatusView:
    """The order's state and where its receipt is."""

    order: OrderOut
    print_state: PrintState
    receipt_qr: Markup | None = None  # the e-receipt's QR code, when no receipt prints here
    payments: PaymentsNow = PaymentsNow()

    @property
    def paid(self) -> bool:
        """Whether the money is in."""
        return self.order.state == OrderState.PAID

    @property
    def final(self) -> bool:
        """Whether nothing will change any more without a person: the page stops asking."""
        return self.order.state == OrderState.CLOSED or self.print_state in (
            "printed",
            "failed",
            "cancelled",
            "no_printer",
        )


async def kiosk_status(
    actor: DeviceActor, order_id: int, token: str, *, public_url: str
) -> StatusView:
    """The order's state and its receipt's printing, for the page to poll."""
    order = await _kiosk_order(actor, order_id, token)
    if order.state in _PAYABLE:
        return StatusView(order, "none", payments=await _payments_now(order))
    jobs = [job for job in await order_jobs(order_id) if job.kind == "receipt"]
    if jobs:
        return StatusView(order, jobs[-1].state)
    if order.state == OrderState.PAID and not await printing.has_receipt_printer(
        order.store_id, counter_id=order.counter_id, device_id=order.device_id
    ):
        qr = qr_svg(receipt_url(public_url, order_id, token))
        return StatusView(order, "no_printer", qr)
    return StatusView(order, "none")
