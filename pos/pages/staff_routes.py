"""The staff tablet's routes under /staff: sign-in, the store's alerts, orders, figures.

Receiving and counts are in `stock_routes`.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from pos.db import RowId
from pos.errors import NotAuthenticated
from pos.pages import dashboard, restock, tablet
from pos.pages.forms import read_form
from pos.pages.rendering import render
from pos.pages.staff_base import AnyRequest, StaffController, see_other, store_path
from pos.printing.service import ReceiptLinks
from pos.settings import Settings
from pos.staff import service as staff_service
from pos.staff.actors import StaffActor
from pos.staff.guards import SESSION_COOKIE, session_cookie
from pos.staff.login_limit import spend_login_try, spend_user_try

__all__ = ["StaffPages"]


def _failed_login(request: AnyRequest, exc: Exception) -> Response[Any]:
    return render(request, "staff/login.html", {"failed": True}, status_code=401)


async def _store_page(
    request: AnyRequest,
    actor: StaffActor,
    store_id: int,
    checked: tablet.RefundChecked | None = None,
) -> Template:
    """The store's alerts and what the user can do there; after a refund was checked again,
    with what the provider said."""
    store = await tablet.store_of(actor, store_id)
    alerts = await tablet.alerts(actor, store_id)
    roles = _roles(actor, store_id)
    context = {
        "actor": actor,
        "store": store,
        "alerts": alerts,
        "roles": roles,
        "expiry_hours": tablet.EXPIRY_WINDOW_HOURS,
        "restock": await restock.open_orders(actor, store_id) if roles["stock"] else None,
        "prices": await tablet.price_changes(actor, store_id) if roles["manager"] else None,
        "key": uuid.uuid4().hex,
        "checked": checked,
    }
    status = checked.status if checked else 200
    return render(request, "staff/store.html", context, status_code=status, switch=not checked)


class StaffPages(StaffController):
    """The staff tablet; each page is there only for roles the matching API allows."""

    @get("/login", operation_id="pageStaffLoginForm")
    async def login_form(self, request: AnyRequest) -> Template:
        """The sign-in form."""
        return render(request, "staff/login.html", {"failed": False})

    @post(
        "/login",
        operation_id="pageStaffLogin",
        guards=[spend_login_try],  # the API's budget: a password guess costs the same either way
        exception_handlers={NotAuthenticated: _failed_login},
    )
    async def login(self, request: AnyRequest, settings: NamedDependency[Settings]) -> Redirect:
        """Sign in and keep the session in the HttpOnly cookie the API reads too."""
        form = await read_form(request)
        await spend_user_try(request, form.get("username", ""))
        token, _ = await staff_service.login(form.get("username", ""), form.get("password", ""))
        redirect = see_other("/staff")
        redirect.cookies.append(session_cookie(token, settings))
        return redirect

    @post("/logout", operation_id="pageStaffLogout")
    async def logout(self, request: AnyRequest, actor: NamedDependency[StaffActor]) -> Redirect:
        """Sign out."""
        await staff_service.logout(request.cookies.get(SESSION_COOKIE, ""))
        redirect = see_other("/staff/login")
        redirect.delete_cookie(SESSION_COOKIE, path="/")
        return redirect

    @get(operation_id="pageStaffHome")
    async def home(self, request: AnyRequest, actor: NamedDependency[StaffActor]) -> Template:
        """The stores the user works at."""
        stores = await tablet.home_stores(actor)
        return render(request, "staff/home.html", {"actor": actor, "stores": stores})

    @get("/stores/{store_id:int}", operation_id="pageStaffStore")
    async def store(
        self, request: AnyRequest, store_id: FromPath[RowId], actor: NamedDependency[StaffActor]
    ) -> Template:
        """The store's alerts and what the user can do there."""
        return await _store_page(request, actor, store_id)

    @post("/stores/{store_id:int}/restock-orders", operation_id="pageStaffRestockOrder")
    async def restock_order(
        self, request: AnyRequest, store_id: FromPath[RowId], actor: NamedDependency[StaffActor]
    ) -> Redirect:
        """Order the quantities typed beside the low-stock alerts."""
        await restock.order_suggestions(actor, store_id, await read_form(request))
        return see_other(store_path(store_id, "#restock"))

    @post(
        "/stores/{store_id:int}/restock-orders/{order_id:int}/{how:str}",
        operation_id="pageStaffRestockEnd",
    )
    async def restock_end(
        self,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        how: FromPath[Literal["cancel", "close"]],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Cancel a placed restock order, or close a shipped one short."""
        await restock.end_order(actor, store_id, order_id, how)
        return see_other(store_path(store_id, "#restock"))

    @post(
        "/stores/{store_id:int}/payments/{payment_id:int}/resolve",
        operation_id="pageStaffResolvePaymentFlag",
    )
    async def resolve_flag(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Say what was done about a flagged payment."""
        await tablet.resolve_flag(actor, store_id, payment_id, await read_form(request))
        return see_other(store_path(store_id, "#flagged"))

    @post(
        "/stores/{store_id:int}/payments/{payment_id:int}/refunds/{refund_id:int}/resolve",
        operation_id="pageStaffResolveRefundFlag",
    )
    async def resolve_refund_flag(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        refund_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Say what was done about a flagged refund."""
        form = await read_form(request)
        await tablet.resolve_flag(actor, store_id, payment_id, form, refund_id=refund_id)
        return see_other(store_path(store_id, "#flagged"))

    @post(
        "/stores/{store_id:int}/payments/{payment_id:int}/refunds/{refund_id:int}/check",
        operation_id="pageStaffCheckRefund",
    )
    async def check_refund(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        refund_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Template:
        """Ask the provider again about an overdue refund; the store page says what it found."""
        form = await read_form(request)
        payments = request.app.state["payments"]
        checked = await tablet.check_refund(
            actor, store_id, payment_id, refund_id, form, payments=payments
        )
        return await _store_page(request, actor, store_id, checked)

    @post(
        "/stores/{store_id:int}/print-jobs/{job_id:int}/{how:str}",
        operation_id="pageStaffPrintJobEnd",
    )
    async def print_job_end(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        job_id: FromPath[RowId],
        how: FromPath[Literal["retry", "cancel"]],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Send a failed print job again, or cancel a stuck one, once per form `key`."""
        await tablet.end_print_job(actor, store_id, job_id, how, await read_form(request))
        return see_other(store_path(store_id, "#printers"))

    @get("/stores/{store_id:int}/orders", operation_id="pageStaffOrders")
    async def orders(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        number: FromQuery[str] = "",
        done: FromQuery[str] = "",
    ) -> Template:
        """Find an order by the number on its receipt, to reprint or refund it."""
        store = await tablet.store_of(actor, store_id, tablet.CASH_ROLES)
        session = request.cookies.get(SESSION_COOKIE, "")
        found = await tablet.find_order(actor, store_id, number, session)
        key = uuid.uuid4().hex
        context = {"store": store, "number": number, "found": found, "key": key, "done": done}
        return render(request, "staff/orders.html", context)

    @post(
        "/stores/{store_id:int}/orders/{order_id:int}/reprint",
        operation_id="pageStaffReprint",
    )
    async def reprint(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        """Queue a reprint of the receipt (a sale that printed none gets its first)."""
        links = ReceiptLinks.from_settings(settings)
        await tablet.reprint(actor, store_id, order_id, await read_form(request), links)
        return see_other(store_path(store_id, f"/orders?number={order_id}&done=reprint"))

    @post(
        "/stores/{store_id:int}/orders/{order_id:int}/refund",
        operation_id="pageStaffRefund",
    )
    async def refund(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Refund through the payment provider."""
        await tablet.refund(
            actor,
            store_id,
            order_id,
            await read_form(request),
            payments=request.app.state["payments"],
        )
        return see_other(store_path(store_id, f"/orders?number={order_id}&done=refund"))

    @get("/dashboard", operation_id="pageStaffDashboard")
    async def dashboard(
        self,
        request: AnyRequest,
        actor: NamedDependency[StaffActor],
        date_from: FromQuery[str] = "",
        date_to: FromQuery[str] = "",
    ) -> Template:
        """Sales and buyers of the stores the manager manages, with charts; a field left empty
        takes the default period."""
        figures = await dashboard.figures(actor, date_from, date_to)
        status = 422 if figures.mistake else 200
        return render(request, "staff/dashboard.html", {"figures": figures}, status_code=status)


def _roles(actor: StaffActor, store_id: int) -> dict[str, bool]:
    return {
        "stock": actor.has_role(tablet.STOCK_ROLES, store_id),
        "cash": actor.has_role(tablet.CASH_ROLES, store_id),
        "manager": actor.has_role(("manager",), store_id),
    }
