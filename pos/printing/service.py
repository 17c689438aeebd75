"""Print jobs for sales, refunds and reprints, and each printer's queue and status for staff.

A paid order's receipt job is made by the `order_paid` outbox handler, a refund's slip by the
`order_refunded` one (`install` registers both), each at most once per event: a job's
`source_key` is unique, so a replayed event inserts nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.query import WhereRaw

from pos.db import Statement, insert_new
from pos.errors import Conflict, InvalidInput, NotFound
from pos.events.outbox import Event, register
from pos.logs import logger
from pos.orders import service as orders
from pos.printing.job_actions import JOB_COLUMNS, job_out, request_key
from pos.printing.jobs import PRINT_JOBS
from pos.printing.receipts import (
    ReceiptPlace,
    document_to_json,
    receipt_document,
    receipt_url,
    refund_document,
)
from pos.printing.schemas import (
    JobKind,
    PaidOrder,
    PrinterOut,
    PrinterStatusOut,
    PrintJobOut,
    Refund,
    RefundedOrder,
)
from pos.printing.tables import PrinterState, PrintJob
from pos.settings import Settings
from pos.staff.actors import staff_name
from pos.stores import service as stores
from pos.stores.tables import Printer
from printers import PrinterStatus

__all__ = [
    "MAX_LISTED_JOBS",
    "OrderPaidHandler",
    "ReceiptLinks",
    "enqueue_receipt",
    "enqueue_refund_slip",
    "has_receipt_printer",
    "install",
    "on_order_refunded",
    "reprint",
    "store_printers",
]

MAX_LISTED_JOBS = 200  # per printer
_J = PrintJob


@dataclass(frozen=True, slots=True)
class ReceiptLinks:
    """What a receipt's QR code needs: the public URL, and the secret of the shoppers' tokens."""

    public_url: str
    secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiptLinks:
        """The links the settings describe."""
        return cls(settings.public_url, settings.secret_key.get_secret_value())

    async def url(self, order_id: int) -> str:
        """The order's e-receipt page, with the shopper's token to it."""
        token = await orders.access_token(order_id, secret=self.secret)
        return receipt_url(self.public_url, order_id, token)


@dataclass(frozen=True, slots=True)
class OrderPaidHandler:
    """Outbox handler for `order_paid`: queue the sale's receipt."""

    public_url: str
    secret: str

    async def __call__(self, event: Event) -> None:
        """Queue the receipt of the order in the event's payload."""
        order = PaidOrder.model_validate(event.payload)
        await enqueue_receipt(order, ReceiptLinks(self.public_url, self.secret))


async def on_order_refunded(event: Event) -> None:
    """Outbox handler for `order_refunded`: queue the refund's slip, once per refund."""
    refund = Refund.model_validate(event.payload)
    await enqueue_refund_slip(refund, source_key=f"refund:{event.key}")


def install(settings: Settings) -> None:
    """Register the printing handlers with the outbox (installing them again changes nothing)."""
    secret = settings.secret_key.get_secret_value()
    register(orders.ORDER_PAID, OrderPaidHandler(settings.public_url, secret))
    register(orders.ORDER_REFUNDED, on_order_refunded)


async def enqueue_receipt(order: PaidOrder, links: ReceiptLinks) -> int | None:
    """Queue `order`'s receipt on its kiosk's or counter's printer; the job id, or None."""
    printer_id, place = await _sale_place(order.store_id, order.counter_id, order.device_id)
    if printer_id is None:
        logger.warning("printing: no printer assigned, no receipt printed", order_id=order.id)
        return None
    document = document_to_json(receipt_document(order, place, await links.url(order.id)))
    job_id = await _insert_job(
        printer_id, order.id, "receipt", document, f"receipt:{order.id}", created_by="worker"
    )
    PRINT_JOBS.notify()
    return job_id


async def enqueue_refund_slip(refund: Refund, *, source_key: str) -> int | None:
    """Queue the refund's slip on the printer staff chose, else where the sale's receipt printed.

    For a sale that printed no receipt (no printer then), where staff first reprinted it.
    The job id, or None when there is no printer to print it.
    """
    order = RefundedOrder.model_validate((await orders.get_order(refund.order_id)).model_dump())
    sellers_printer, place = await _sale_place(order.store_id, order.counter_id, order.device_id)
    chosen = refund.slip_printer_id
    if chosen is not None and not await stores.has_printer(order.store_id, chosen):
        logger.warning("printing: the chosen printer is not the store's", printer_id=chosen)
        chosen = None
    printer_id = chosen or await _receipt_printer(order.id) or sellers_printer
    if printer_id is None:
        logger.warning("printing: no printer assigned, no refund slip printed", order_id=order.id)
        return None
    document = document_to_json(refund_document(refund, order, place))
    job_id = await _insert_job(
        printer_id, order.id, "refund", document, source_key, created_by="worker"
    )
    PRINT_JOBS.notify()
    return job_id


# A kiosk's order may have no counter of its own: then its device's counter is the place.
# Hand-written: run for every sale, where building the joins cost more than running them.
_SALE_PLACE = Statement(
    "SELECT s.name_zh AS store_name, s.time_zone,"
    " d.name AS device_name, d.printer AS device_printer,"
    " c.name_zh AS counter_name, c.printer AS counter_printer"
    " FROM store s LEFT JOIN device d ON d.id = {}"
    " LEFT JOIN counter c ON c.id = COALESCE({}, d.counter)"
    " WHERE s.id = {}"
)


async def _sale_place(
    store_id: int, counter_id: int | None, device_id: int | None
) -> tuple[int | None, ReceiptPlace]:
    """The printer for the order's receipt (None: none assigned) and the place it was sold."""
    row = await _SALE_PLACE.first(device_id, counter_id, store_id)
    if row is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    printer_id = row["device_printer"] or row["counter_printer"] or None
    name = row["counter_name"] if row["counter_name"] is not None else row["device_name"] or ""
    place = ReceiptPlace(row["store_name"], name, row["time_zone"])
    return printer_id, place


async def has_receipt_printer(
    store_id: int, *, counter_id: int | None, device_id: int | None
) -> bool:
    """Whether the kiosk or counter an order was sold at has a printer for its receipt."""
    printer_id, _ = await _sale_place(store_id, counter_id, device_id)
    return printer_id is not None


async def _insert_job(
    printer_id: int,
    order_id: int,
    kind: JobKind,
    document: dict[str, Any],
    source_key: str | None,
    *,
    created_by: str,
) -> int:
    """Insert a queued job; with a `source_key` seen before, the existing job's id."""
    row = _J(
        printer=printer_id,
        order=order_id,
        kind=kind,
        source_key=source_key,
        document=json.dumps(document, ensure_ascii=False),
        state="queued",
        next_attempt_at=datetime.now(UTC),
        created_by=created_by,
    )
    # A job with a `source_key` seen before inserts nothing.
    inserted = await insert_new([row], "ON CONFLICT DO NOTHING RETURNING id")
    if inserted:
        return int(inserted[0]["id"])
    existing = await _J.select(_J.id).where(_J.source_key == source_key).first()
    if existing is None:
        raise Conflict("the print job could not be written", code="print_job_conflict")
    return int(existing["id"])


async def store_printers(store_id: int) -> list[PrinterOut]:
    """The store's printers, each with its last status and its unprinted jobs."""
    printers = (
        await Printer.select(Printer.id, Printer.name, Printer.paper_width_mm)
        .where(Printer.store == store_id)
        .order_by(Printer.id)
    )
    ids = [row["id"] for row in printers]
    if not ids:
        return []
    states = await PrinterState.select().where(PrinterState.printer.is_in(ids))
    status_of = {row["printer"]: _status_out(row) for row in states}
    jobs = await _J.select(*JOB_COLUMNS).where(_listed_jobs(store_id)).order_by(_J.id)
    return [
        PrinterOut(
            **row,
            status=status_of.get(row["id"]),
            jobs=[PrintJobOut(**job) for job in jobs if job["printer_id"] == row["id"]],
        )
        for row in printers
    ]


def _listed_jobs(store_id: int) -> WhereRaw:
    """The first `MAX_LISTED_JOBS` unprinted jobs of each of the store's printers.

    Limited per printer: one printer's pile of failed jobs must not hide another's queue.
    """
    return WhereRaw(
        "print_job.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER"
        " (PARTITION BY printer ORDER BY id) AS place FROM print_job"
        " WHERE state NOT IN ('printed', 'cancelled')"
        " AND printer IN (SELECT id FROM printer WHERE store = {})) queue WHERE place <= {})",
        store_id,
        MAX_LISTED_JOBS,
    )


def _status_out(row: dict[str, Any]) -> PrinterStatusOut:
    status = PrinterStatus(
        online=row["online"],
        paper_out=row["paper_out"],
        cover_open=row["cover_open"],
        paper_near_end=row["paper_near_end"],
        error=row["error"] or None,
    )
    return PrinterStatusOut(
        online=status.online,
        paper_out=status.paper_out,
        cover_open=status.cover_open,
        paper_near_end=status.paper_near_end,
        ready=status.ready,
        reason=status.reason,
        checked_at=row["checked_at"],
    )


@dataclass(frozen=True, slots=True)
class _Receipt:
    """A sale's receipt to print again, the refunds since, and where it prints unless told."""

    document: dict[str, Any]
    refunded_fen: int
    printer_id: int | None


async def reprint(
    store_id: int,
    order_id: int,
    *,
    printer_id: int | None,
    staff_user_id: int,
    idempotency_key: str | None,
    links: ReceiptLinks,
) -> PrintJobOut:
    """Queue the order's receipt again, marked as a reprint; the same key returns the same job.

    It prints on `printer_id`, else where the receipt printed. A paid sale that printed none
    (no printer then) gets it made now, printed by default on its kiosk's or counter's printer
    as assigned now.
    A key already used to reprint another order is refused (`idempotency_key_reused`).
    A reprint after refunds prints what was refunded and what stays paid.
    """
    receipt = await _printed_receipt(store_id, order_id) or await _unprinted_receipt(
        store_id, order_id, links
    )
    target = printer_id or receipt.printer_id
    if target is None:
        raise InvalidInput(
            f"no printer prints order {order_id}'s receipts: name one", code="printer_required"
        )
    await stores.check_printer(store_id, target)
    document = {**receipt.document, "reprint": True, "refunded_fen": receipt.refunded_fen}
    key = request_key("reprint", store_id, idempotency_key)
    job_id = await _insert_job(
        target, order_id, "reprint", document, key, created_by=staff_name(staff_user_id)
    )
    job = await job_out(job_id)
    if job.order_id != order_id:
        raise Conflict(
            "this Idempotency-Key was used to reprint another order; use a new key",
            code="idempotency_key_reused",
        )
    PRINT_JOBS.notify()
    return job


async def _receipt_printer(order_id: int) -> int | None:
    """Where the sale's receipt printed; for a sale that printed none, its first reprint.

    Not the seller's printer now: it may have changed, or be none.
    """
    row = (
        await _J.select(_J.printer)
        .where((_J.order == order_id) & _J.kind.is_in(["receipt", "reprint"]))
        .order_by(_J.kind, _J.id)  # "receipt" sorts before "reprint"
        .first()
    )
    return int(row["printer"]) if row else None


async def _printed_receipt(store_id: int, order_id: int) -> _Receipt | None:
    """The receipt queued when the store's order was paid, if a printer was there to print it."""
    row = (
        await _J.select(_J.printer, _J.document, _J.order._.refunded_fen.as_alias("refunded_fen"))
        .where((_J.order == order_id) & (_J.kind == "receipt") & (_J.order._.store == store_id))
        .first()
    )
    if row is None:
        return None
    return _Receipt(_json(row["document"]), row["refunded_fen"], row["printer"])


async def _unprinted_receipt(store_id: int, order_id: int, links: ReceiptLinks) -> _Receipt:
    """The receipt of the store's paid order as it would have printed, for its seller's printer."""
    order = await orders.get_order(order_id)
    if order.store_id != store_id:
        raise NotFound(f"store {store_id} has no order {order_id}", code="order_not_found")
    if order.paid_at is None:
        raise Conflict(f"order {order_id} is {order.state}, not paid", code="order_not_paid")
    paid = PaidOrder.model_validate(await orders.sale(order_id))
    printer_id, place = await _sale_place(order.store_id, order.counter_id, order.device_id)
    document = receipt_document(paid, place, await links.url(order_id))
    return _Receipt(document_to_json(document), order.refunded_fen, printer_id)


def _json(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return data
