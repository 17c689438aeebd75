"""The tablet's stock work under /staff/stores/{id}: receiving shipments and counting shelves."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from pos.db import RowId
from pos.pages import stock_work, tablet
from pos.pages.forms import read_form
from pos.pages.rendering import render
from pos.pages.staff_base import AnyRequest, StaffController, see_other, store_path
from pos.staff.actors import StaffActor

__all__ = ["StockPages"]


async def _after_receiving_change(
    request: AnyRequest,
    actor: StaffActor,
    store_id: int,
    receiving_id: int,
    change: Awaitable[object],
    form: Mapping[str, str] | None = None,
) -> Redirect | Template:
    """Make a change to the receiving; its page again, with why if it was refused (keeping
    what `form` typed by hand)."""
    if refused := await stock_work.refused_scan(change, form or {}):
        return await _receiving_page(request, actor, store_id, receiving_id, refused)
    return see_other(store_path(store_id, f"/receiving/{receiving_id}"))


async def _receiving_page(
    request: AnyRequest,
    actor: StaffActor,
    store_id: int,
    receiving_id: int,
    refused: stock_work.RefusedScan | None = None,
) -> Template:
    """A receiving's scan screen; after a refused scan, with why and what was typed."""
    store = await tablet.store_of(actor, store_id, tablet.STOCK_ROLES)
    sheet = await stock_work.received(actor, store_id, receiving_id)
    context = {"store": store, "sheet": sheet, "key": uuid.uuid4().hex, "refused": refused}
    status = refused.status if refused else 200
    return render(request, "staff/receiving.html", context, status_code=status, switch=not refused)


async def _count_page(
    request: AnyRequest,
    actor: StaffActor,
    store_id: int,
    count_id: int,
    refused: stock_work.RefusedScan | None = None,
) -> Template:
    """A count's scan screen; after a refused scan, with why and what was typed."""
    store = await tablet.store_of(actor, store_id, tablet.STOCK_ROLES)
    sheet = await stock_work.counted(actor, store_id, count_id)
    context = {"store": store, "sheet": sheet, "key": uuid.uuid4().hex, "refused": refused}
    status = refused.status if refused else 200
    return render(request, "staff/count.html", context, status_code=status, switch=not refused)


class StockPages(StaffController):
    """Receiving and counts, for the roles that may change stock."""

    @get("/stores/{store_id:int}/receiving", operation_id="pageStaffReceivingList")
    async def receiving_list(
        self, request: AnyRequest, store_id: FromPath[RowId], actor: NamedDependency[StaffActor]
    ) -> Template:
        """Shipments on their way, to receive one or to receive a delivery without notice."""
        store = await tablet.store_of(actor, store_id, tablet.STOCK_ROLES)
        notices = await stock_work.shipments(actor, store_id)
        context = {"store": store, "notices": notices, "key": uuid.uuid4().hex}
        return render(request, "staff/receiving_list.html", context)

    @post("/stores/{store_id:int}/receiving", operation_id="pageStaffReceivingStart")
    async def receiving_start(
        self, request: AnyRequest, store_id: FromPath[RowId], actor: NamedDependency[StaffActor]
    ) -> Redirect:
        """Open a receiving and go to its scan screen."""
        form = await read_form(request)
        session = await stock_work.receiving_start(
            actor, store_id, form.get("notice_id", ""), form.get("key", "")
        )
        return see_other(store_path(store_id, f"/receiving/{session.id}"))

    @get("/stores/{store_id:int}/receiving/{receiving_id:int}", operation_id="pageStaffReceiving")
    async def receiving(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Template:
        """Scan what arrived; the lines show what the notice expected."""
        return await _receiving_page(request, actor, store_id, receiving_id)

    @post(
        "/stores/{store_id:int}/receiving/{receiving_id:int}/scan",
        operation_id="pageStaffReceivingScan",
    )
    async def receiving_scan(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect | Template:
        """Add a scanned item (or show the form again, with why not)."""
        form = await read_form(request)
        scan = stock_work.receiving_scan(actor, store_id, receiving_id, form)
        return await _after_receiving_change(request, actor, store_id, receiving_id, scan, form)

    @post(
        "/stores/{store_id:int}/receiving/{receiving_id:int}/lines/{line_id:int}",
        operation_id="pageStaffReceivingSetLine",
    )
    async def receiving_set_line(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        line_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect | Template:
        """Set a line's received units and why they differ (or show the page, with why not)."""
        form = await read_form(request)
        change = stock_work.receiving_set_line(actor, store_id, receiving_id, line_id, form)
        return await _after_receiving_change(request, actor, store_id, receiving_id, change)

    @post(
        "/stores/{store_id:int}/receiving/{receiving_id:int}/confirm",
        operation_id="pageStaffReceivingConfirm",
    )
    async def receiving_confirm(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect | Template:
        """Put what was received into stock (or show the page, with why not)."""
        confirm = stock_work.receiving_confirm(actor, store_id, receiving_id)
        return await _after_receiving_change(request, actor, store_id, receiving_id, confirm)

    @post("/stores/{store_id:int}/counts", operation_id="pageStaffCountStart")
    async def count_start(
        self, request: AnyRequest, store_id: FromPath[RowId], actor: NamedDependency[StaffActor]
    ) -> Redirect:
        """Open a stock count, once per form `key`, and go to its scan screen."""
        session = await stock_work.count_start(actor, store_id, await read_form(request))
        return see_other(store_path(store_id, f"/counts/{session.id}"))

    @get("/stores/{store_id:int}/counts/{count_id:int}", operation_id="pageStaffCount")
    async def count(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        count_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Template:
        """Scan what is on the shelf; the variance shows against the ledger."""
        return await _count_page(request, actor, store_id, count_id)

    @post("/stores/{store_id:int}/counts/{count_id:int}/scan", operation_id="pageStaffCountScan")
    async def count_scan(
        self,
        request: AnyRequest,
        store_id: FromPath[RowId],
        count_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect | Template:
        """Add counted units (or show the form again, with why not)."""
        form = await read_form(request)
        scan = stock_work.count_scan(actor, store_id, count_id, form)
        if refused := await stock_work.refused_scan(scan, form):
            return await _count_page(request, actor, store_id, count_id, refused)
        return see_other(store_path(store_id, f"/counts/{count_id}"))

    @post(
        "/stores/{store_id:int}/counts/{count_id:int}/finish", operation_id="pageStaffCountFinish"
    )
    async def count_finish(
        self,
        store_id: FromPath[RowId],
        count_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> Redirect:
        """Post the counts as corrections."""
        await stock_work.count_finish(actor, store_id, count_id)
        return see_other(store_path(store_id, f"/counts/{count_id}"))
