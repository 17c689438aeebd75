"""What the staff tablet shows: alerts, receiving, counts, an order to reprint or refund.

Staff sign in with the same session cookie as the API (HttpOnly, SameSite=Strict, so another
site cannot post these forms with it). Each page checks the role the matching API route needs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from pos.catalog import service as catalog
from pos.errors import Forbidden, InvalidInput, NotAuthenticated, Unavailable
from pos.inventory import replenishment, shelf_life
from pos.inventory.schemas import (
    BatchOut,
    LowStockOut,
)
from pos.money import parse_yuan
from pos.orders import service as orders
from pos.orders.refund_shares import RefundLine
from pos.orders.schemas import OrderOut, TransitionOut
from pos.pages.forms import whole_number
from pos.payments import flags, refunds
from pos.payments.schemas import FlaggedPaymentOut, RefundOut, RefundRequest, ResolveFlagIn
from pos.payments.settle import Payments
from pos.platform import service as platform
from pos.platform.schemas import BacklogOut
from pos.printing import job_actions
from pos.printing import service as printing
from pos.printing.schemas import PrinterOut, PrintJobOut
from pos.staff import service as staff_service
from pos.staff.actors import RoleName, StaffActor
from pos.staff.labels import ActorLabel, actor_labels
from pos.stores import service as stores
from pos.stores.schemas import PriceChangeOut
from pos.stores.service import PrinterBrief, StoreBrief

__all__ = [
    "ANY_ROLE",
    "CASH_ROLES",
    "EXPIRY_WINDOW_HOURS",
    "STOCK_ROLES",
    "Alerts",
    "FoundOrder",
    "PriceChanges",
    "RefundChecked",
    "ReturnableGoods",
    "alerts",
    "check_refund",
    "end_print_job",
    "find_order",
    "home_stores",
    "price_changes",
    "refund",
    "reprint",
    "require",
    "resolve_flag",
    "signed_in",
    "store_of",
]

ANY_ROLE: tuple[RoleName, ...] = ("manager", "restocker", "cashier")
STOCK_ROLES: tuple[RoleName, ...] = ("manager", "restocker")
CASH_ROLES: tuple[RoleName, ...] = ("manager", "cashier")
EXPIRY_WINDOW_HOURS = 72


async def signed_in(token: str | None) -> StaffActor:
    """The staff user behind the session cookie."""
    if not token:
        raise NotAuthenticated("sign in first", code="no_credential")
    return await staff_service.staff_for_session(token)


def require(actor: StaffActor, roles: Collection[str], store_id: int) -> None:
    """Refuse a user without one of `roles` at the store, as the API's guard does."""
    if not actor.has_role(roles, store_id):
        raise Forbidden("your role does not allow this here", code="wrong_role")


def _head_office(actor: StaffActor) -> bool:
    return any(store is None for _, store in actor.roles)


async def home_stores(actor: StaffActor) -> list[StoreBrief]:
    """The stores the user holds a role at (every store for head office)."""
    if _head_office(actor):
        return await stores.list_stores()
    return await stores.list_stores({store for _, store in actor.roles if store is not None})


async def store_of(
    actor: StaffActor, store_id: int, roles: Collection[str] = ANY_ROLE
) -> StoreBrief:
    """The store, when the user holds one of `roles` there."""
    require(actor, roles, store_id)
    found = await stores.list_stores([store_id])
    if not found:
        raise Forbidden("no such store", code="store_not_found")
    return found[0]


@dataclass(frozen=True, slots=True)
class Alerts:
    """What needs a person at a store: None for a kind this user does not see; `units` is the
    unit ("piece" or "kg") of each product low on stock or expiring."""

    low_stock: list[LowStockOut] | None
    expiring: list[BatchOut] | None
    flagged: list[FlaggedPaymentOut] | None
    printers: list[PrinterOut]
    backlog: BacklogOut | None
    time_zone: str
    units: dict[int, str]

    @property
    def printer_problems(self) -> list[tuple[PrinterOut, list[PrintJobOut]]]:
        """Printers that cannot print or have jobs stuck, with those jobs."""
        found = []
        for printer in self.printers:
            stuck = [job for job in printer.jobs if job.state in ("waiting", "failed")]
            if stuck or (printer.status is not None and not printer.status.ready):
                found.append((printer, stuck))
        return found


async def alerts(actor: StaffActor, store_id: int) -> Alerts:
    """Low stock, expiring batches, flagged payments, printer problems; for head office the
    forwarding backlog."""
    require(actor, ANY_ROLE, store_id)
    stock = actor.has_role(STOCK_ROLES, store_id)
    cash = actor.has_role(CASH_ROLES, store_id)
    low, expiring, flagged, printers, rules = await asyncio.gather(
        replenishment.low_stock(store_id) if stock else _none(),
        shelf_life.expiring(store_id, EXPIRY_WINDOW_HOURS) if stock else _none(),
        flags.flagged(store_id) if cash else _none(),
        printing.store_printers(store_id),
        stores.store_rules(store_id),
    )
    backlog = await platform.backlog() if ("manager", None) in actor.roles else None
    stocked = [item.product_id for item in (*(low or ()), *(expiring or ()))]
    units = await catalog.product_units(stocked)
    return Alerts(low, expiring, flagged, printers, backlog, rules.time_zone, units)


PRICE_CHANGES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class PriceChanges:
    """Price changes, and a label for each one who made them."""

    changes: list[PriceChangeOut]
    actors: dict[str, ActorLabel]


async def price_changes(actor: StaffActor, store_id: int) -> PriceChanges:
    """The store's latest price changes, its own and the catalog's, for its managers."""
    require(actor, ("manager",), store_id)
    changes = await stores.price_changes(store_id, limit=PRICE_CHANGES_SHOWN)
    return PriceChanges(changes, await actor_labels(change.changed_by for change in changes))


async def _none() -> None:
    return None


def _whole(value: str, default: int) -> int:
    return whole_number(value) if value.strip() else default


# yymmdd then the order id, at least 6 digits: 12 or more. An id alone is 10 digits at most.
_NUMBER_DIGITS = 12


def _order_id(number: str) -> int:
    """An order number is the store-local day (yymmdd) then the order id; an id alone works too."""
    digits = number.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidInput(f"{number!r} is not an order number", code="order_number")
    order_id = digits[6:] if len(digits) >= _NUMBER_DIGITS else digits
    return whole_number(order_id, code="order_number")


@dataclass(frozen=True, slots=True)
class ReturnableGoods:
    """A product of the order as the refund form offers to pay it back and put it on the shelf.

    `payable` are the pieces (grams, when weighed) no refund has paid back or is paying back;
    `restockable` those of them not back on the shelf nor on their way; `lines` the product's
    lines as a new refund finds them, for the page to work out what units are worth.
    """

    product_id: int
    name_zh: str
    weighed: bool
    payable: int
    restockable: int
    lines: list[RefundLine]

    @property
    def line_values(self) -> list[tuple[int, int, int, int]]:
        """Each line with units left: total fen, units sold, units returned, fen left."""
        return [
            (line.total_fen, line.units, line.returned_units, line.fen_left)
            for line in self.lines
            if line.units_left > 0
        ]


@dataclass(frozen=True, slots=True)
class FoundOrder:
    """An order as the tablet offers it to reprint or refund, its history and a label for each
    actor there, where either prints.

    `refund_room` counts the refunds of its payment not failed: done, or still pending with the
    provider, which the order's `refunded_fen` does not count yet.
    """

    order: OrderOut
    history: list[TransitionOut]
    actors: dict[str, ActorLabel]
    goods: list[ReturnableGoods]
    printers: list[PrinterBrief]
    time_zone: str
    refund_room: refunds.RefundRoom

    @property
    def refundable_fen(self) -> int:
        """What a refund may still take, as the API reserves it."""
        return self.refund_room.left_fen

    @property
    def pending_refund_fen(self) -> int:
        """Refunds the provider has not finished."""
        return self.refund_room.asked_fen - self.order.refunded_fen


async def find_order(
    actor: StaffActor, store_id: int, number: str, session: str
) -> FoundOrder | None:
    """The store's order with this number (the receipt shows it), or None."""
    require(actor, CASH_ROLES, store_id)
    if not number.strip():
        return None
    order = await orders.read_order(_order_id(number), token=None, staff_session=session)
    if order.store_id != store_id:
        raise Forbidden("this order belongs to another store", code="other_store")
    # Reading the order checked the session: the rest is read without checking it again.
    history, returnable, payable, printers, rules, room = await asyncio.gather(
        orders.transitions(order.id),
        refunds.returnable_units(order.id, store_id),
        refunds.payable_lines(order.id, store_id),
        stores.store_printer_names(store_id),
        stores.store_rules(store_id),
        refunds.refund_room(order.id, store_id),
    )
    return FoundOrder(
        order,
        history,
        await actor_labels(step.actor for step in history),
        _goods(order, returnable, payable),
        printers,
        rules.time_zone,
        room,
    )


def _goods(
    order: OrderOut, returnable: Mapping[int, int], payable: list[RefundLine]
) -> list[ReturnableGoods]:
    """Each product of the order, in line order, with what a refund may pay back and put back."""
    line_of = {line.product_id: line for line in order.lines}
    goods = []
    for product, sold in line_of.items():
        lines = [line for line in payable if line.product_id == product]
        units = sum(max(line.units_left, 0) for line in lines)
        # Goods go back on the shelf only with a refund paying for them.
        back = max(min(returnable.get(product, 0), units), 0)
        goods.append(
            ReturnableGoods(product, sold.name_zh, sold.weight_g is not None, units, back, lines)
        )
    return goods


def _form_goods(form: Mapping[str, str], prefix: str) -> dict[int, int] | None:
    """The units of each product the form's `<prefix><product id>` fields name (empty and 0
    fields none); None when the form has no such field."""
    goods: dict[int, int] | None = None
    for name, value in form.items():
        product = name.removeprefix(prefix)
        if product != name:
            goods = {} if goods is None else goods
            if units := _whole(value, 0):
                goods[whole_number(product, code="form_product")] = units
    return goods


def _printer_choice(form: Mapping[str, str]) -> int | None:
    """The printer the form names; None (the sale's printer) when it names none."""
    chosen = form.get("printer", "")
    return whole_number(chosen, code="form_printer") if chosen.strip() else None


async def resolve_flag(
    actor: StaffActor,
    store_id: int,
    payment_id: int,
    form: Mapping[str, str],
    *,
    refund_id: int | None = None,
) -> FlaggedPaymentOut:
    """Resolve a flagged payment, or its refund's flag, with the note of what was done."""
    require(actor, CASH_ROLES, store_id)
    note = ResolveFlagIn(note=form.get("note", ""))
    return await flags.resolve(store_id, payment_id, note.note, actor=actor, refund_id=refund_id)


@dataclass(frozen=True, slots=True)
class RefundChecked:
    """What asking the provider again about a flagged refund found: the refund as it stands now;
    or, when the provider did not answer (nothing changed), None with that error's code and status.
    """

    refund: RefundOut | None
    code: str = ""
    status: int = 200


async def check_refund(
    actor: StaffActor,
    store_id: int,
    payment_id: int,
    refund_id: int,
    form: Mapping[str, str],
    *,
    payments: Payments,
) -> RefundChecked:
    """Ask the provider again about a refund flagged overdue, once per form `key`."""
    require(actor, CASH_ROLES, store_id)
    # A post without a key asks anew: one shared empty key would answer every later check with
    # the first one's answer.
    key = form.get("key", "") or uuid.uuid4().hex
    try:
        refund = await refunds.check_again(
            payments, store_id, payment_id, refund_id, actor=actor, idempotency_key=key
        )
    except Unavailable as exc:
        return RefundChecked(None, exc.code, exc.status)
    return RefundChecked(refund)


async def reprint(
    actor: StaffActor,
    store_id: int,
    order_id: int,
    form: Mapping[str, str],
    links: printing.ReceiptLinks,
) -> PrintJobOut:
    """Print the order's receipt again, marked as a reprint, where the form says."""
    require(actor, CASH_ROLES, store_id)
    return await printing.reprint(
        store_id,
        order_id,
        printer_id=_printer_choice(form),
        staff_user_id=actor.user_id,
        idempotency_key=form.get("key", ""),
        links=links,
    )


async def end_print_job(
    actor: StaffActor,
    store_id: int,
    job_id: int,
    how: Literal["retry", "cancel"],
    form: Mapping[str, str],
) -> PrintJobOut:
    """Send a failed job again, or take a stuck one off its printer's queue, once per `key`."""
    require(actor, CASH_ROLES, store_id)
    act = job_actions.retry_job if how == "retry" else job_actions.cancel_job
    key = form.get("key", "") or None
    return await act(store_id, job_id, staff_user_id=actor.user_id, idempotency_key=key)


async def refund(
    actor: StaffActor,
    store_id: int,
    order_id: int,
    form: Mapping[str, str],
    *,
    payments: Payments,
) -> RefundOut:
    """Refund part or all of the order; `returned_<product id>` are the units it pays for,
    `back_<product id>` those of them put back on the shelf. A form with no `returned_` field
    pays for the goods put back, as the API does."""
    require(actor, CASH_ROLES, store_id)
    try:
        amount_fen = parse_yuan(form.get("amount", ""))
    except ValueError:
        raise InvalidInput("the amount is not yuan", code="form_amount") from None
    data = RefundRequest(
        amount_fen=amount_fen,
        reason=form.get("reason", "").strip(),
        restock=_form_goods(form, "back_") or None,
        returned=_form_goods(form, "returned_"),
        printer_id=_printer_choice(form),
    )
    return await refunds.refund_order(
        payments,
        order_id,
        data,
        store_id=store_id,
        actor=actor,
        idempotency_key=form.get("key", "") or f"page-refund:{order_id}:{amount_fen}",
    )
