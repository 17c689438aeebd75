"""Print tables: the per-printer job queue, staff's keys on it, each printer's last status."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.orders.tables import Order
from pos.stores.tables import Printer

__all__ = ["PrintJob", "PrintJobKey", "PrinterState"]


class PrintJob(Table):
    """One receipt to print; each printer prints its unfinished jobs oldest first."""

    id: Serial
    printer = ForeignKey[Printer](
        references=Printer, null=False, index=True, on_delete=OnDelete.restrict
    )
    order = ForeignKey[Order](references=Order, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=10, help_text="receipt or reprint")
    source_key = Varchar(
        length=160,
        null=True,
        default=None,
        unique=True,
        help_text="what made it, so a replay makes nothing: receipt:<order id>, reprint:<key>",
    )
    document = JSON(default="{}", help_text="the receipt document; rendered when sent")
    state = Varchar(
        length=10, index=True, help_text="queued, sending, printed, waiting, failed or cancelled"
    )
    attempts = Integer(default=0, help_text="sends that could not reach the printer")
    next_attempt_at = Timestamptz(help_text="not sent or re-checked before this (UTC)")
    claimed_by = Varchar(length=32, default="", help_text="the sender's random claim id")
    lease_until = Timestamptz(
        null=True, default=None, help_text="a sender that crashed gives the job back then"
    )
    maybe_printed = Boolean(
        default=False,
        help_text="a send was cut short (link lost, sender stopped): later ones print as reprints",
    )
    last_error = Text(default="", help_text="why it waits or failed, for staff")
    created_at = Timestamptz(default=TimestamptzNow())
    printed_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=64, default="", help_text="worker, or staff:<user id>")


class PrintJobKey(Table):
    """The Idempotency-Key of a staff request on a job (cancel, retry): a repeat changes nothing."""

    id: Serial
    key = Varchar(length=160, unique=True, help_text="cancel:<job id>:<key>, retry:<job id>:<key>")


class PrinterState(Table):
    """What a printer last answered to a status query or a send."""

    id: Serial
    printer = ForeignKey[Printer](
        references=Printer, null=False, unique=True, on_delete=OnDelete.cascade
    )
    online = Boolean(default=False)
    paper_out = Boolean(default=False)
    cover_open = Boolean(default=False)
    paper_near_end = Boolean(default=False)
    checked_at = Timestamptz(default=TimestamptzNow())
    error = Text(default="", help_text="why it could not be asked or cannot print")
