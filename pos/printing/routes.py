"""Printing API for staff: printers with their status and queues, reprints, retries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from pos.db import RowId
from pos.idempotency import OptionalIdempotencyKey
from pos.printing import job_actions
from pos.printing import service as printing
from pos.printing.schemas import PrinterOut, PrintJobOut, ReprintIn
from pos.settings import Settings
from pos.staff.actors import StaffActor
from pos.staff.guards import STAFF_ACTOR, staff

__all__ = ["PrintingController"]


class PrintingController(Controller):
    path = "/api/stores/{store_id:int}"
    tags = ("printing",)
    dependencies = {"actor": STAFF_ACTOR}

    @get(
        "/printers",
        operation_id="storePrinters",
        guards=[staff("manager", "cashier", "restocker")],
        summary="The store's printers: status and unprinted jobs",
    )
    async def printers(self, store_id: FromPath[RowId]) -> list[PrinterOut]:
        """Why a printer cannot print (paper out, cover open, offline) and what waits for it."""
        return await printing.store_printers(store_id)

    @post(
        "/orders/{order_id:int}/reprint",
        operation_id="reprintReceipt",
        guards=[staff("manager", "cashier")],
        status_code=HTTP_201_CREATED,
        summary="Print a paid order's receipt (again), marked as a reprint",
    )
    async def reprint(
        self,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        settings: NamedDependency[Settings],
        idempotency_key: OptionalIdempotencyKey = None,
        data: Annotated[ReprintIn | None, Body()] = None,
    ) -> PrintJobOut:
        """On the named printer, else the receipt's, else the seller's; a repeated key prints once.

        A sale that printed no receipt (no printer then) gets one; 409 `order_not_paid` for an
        order not paid, 422 `printer_required` when nothing says where to print.
        """
        return await printing.reprint(
            store_id,
            order_id,
            printer_id=data.printer_id if data else None,
            staff_user_id=actor.user_id,
            idempotency_key=idempotency_key,
            links=printing.ReceiptLinks.from_settings(settings),
        )

    @post(
        "/print-jobs/{job_id:int}/retry",
        operation_id="retryPrintJob",
        guards=[staff("manager", "cashier")],
        status_code=HTTP_200_OK,
        summary="Queue a failed print job again",
    )
    async def retry(
        self,
        store_id: FromPath[RowId],
        job_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> PrintJobOut:
        """Only a failed job; it goes back to its place in the printer's queue."""
        return await job_actions.retry_job(
            store_id, job_id, staff_user_id=actor.user_id, idempotency_key=idempotency_key
        )

    @post(
        "/print-jobs/{job_id:int}/cancel",
        operation_id="cancelPrintJob",
        guards=[staff("manager", "cashier")],
        status_code=HTTP_200_OK,
        summary="Take a print job off its printer's queue",
    )
    async def cancel(
        self,
        store_id: FromPath[RowId],
        job_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> PrintJobOut:
        """A queued, waiting or failed job; 409 `job_state` for one being sent or printed."""
        return await job_actions.cancel_job(
            store_id, job_id, staff_user_id=actor.user_id, idempotency_key=idempotency_key
        )
