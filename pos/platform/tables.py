"""Forwarded documents: certified transactions and ratings, and where each one stands."""

from __future__ import annotations

from piccolo.columns import Date, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

__all__ = ["CertifiedTransaction"]


class CertifiedTransaction(Table):
    """One sale, reversal or rating document as the platform receives it; pending, sent or dead.

    An order has one sale at most: a partial UNIQUE index on `order_id` where `kind` is 'sale'
    (migration "one sale per order").
    """

    id: Serial
    transaction_id = Varchar(
        length=80, unique=True, help_text="stable id; the platform dedupes by it"
    )
    kind = Varchar(length=20, help_text="sale, reversal, rating or rating_withdrawal")
    order_id = Integer(index=True, help_text="the order it comes from (a rating: the rated one)")
    store_id = Integer(index=True)
    merchant_id = Varchar(length=40, help_text="merchant id at the platform; picks the key")
    business_day = Date(index=True, help_text="the store-local day it counts for")
    amount_fen = Integer(help_text="sum of its lines, positive for reversals too; 0 for ratings")
    body = Text(help_text="the JSON document sent, built once from its event")
    state = Varchar(length=10, default="pending", index=True, help_text="pending, sent or dead")
    attempts = Integer(default=0, help_text="claims so far, a crashed relay's included")
    next_attempt_at = Timestamptz(
        null=True, index=True, help_text="due then (UTC); null once sent or dead"
    )
    claimed_by = Varchar(length=32, default="", help_text="the relay claim's random id")
    claimed_until = Timestamptz(
        null=True, default=None, help_text="lease: after it another relay may send the row"
    )
    last_error = Text(default="", help_text="why the last attempt failed")
    sent_at = Timestamptz(null=True, default=None)
    dead_at = Timestamptz(null=True, default=None, help_text="gave up; staff may retry it")
    created_at = Timestamptz(default=TimestamptzNow())
