"""Outbox table: effects to run after a commit, claimed and run by the workers."""

from __future__ import annotations

from piccolo.columns import JSON, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

__all__ = ["OutboxEvent"]


class OutboxEvent(Table):
    """One event; it is done, waiting (maybe for a retry), claimed by a worker, or dead."""

    id: Serial
    kind = Varchar(length=40, help_text="what happened, e.g. order_paid; picks the handlers")
    key = Varchar(length=120, help_text="what it happened to; handlers are idempotent by it")
    payload = JSON(default="{}")
    # Indexed by migration as `outbox_event_due`, over the events not done or dead only: a
    # claim must not walk the day's done events.
    available_at = Timestamptz(help_text="not run before this (UTC)")
    attempts = Integer(default=0, help_text="claims so far, a crashed worker's included")
    last_error = Text(default="", help_text="why the last attempt failed")
    claimed_by = Varchar(length=32, default="", help_text="the claim's random id")
    claimed_until = Timestamptz(
        null=True, default=None, help_text="lease: after it, another worker may claim the row"
    )
    done_at = Timestamptz(null=True, default=None)
    dead_at = Timestamptz(null=True, default=None, help_text="gave up: too many attempts")
    created_at = Timestamptz(default=TimestamptzNow())
