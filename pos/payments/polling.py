"""When to query a pending payment next: pure schedules, tested without a clock or database.

A merchant-presented QR payment is queried after 5 s, 10 s, 20 s ... (at most every minute) until
the order expires. A payer-presented code answering "user paying" (the payer confirms a PIN on
the phone) is queried every 2 s for 30 s, then every 5 s up to 90 s, and then reversed, as
WeChat's micropay guide and Alipay's bar_code guide both prescribe. A code given up on earlier
(the shopper cancelled) is reversed no sooner than 15 s after its charge, as WeChat's reverse
API asks (调用支付接口后请勿立即调用撤销订单API，建议支付后至少15s后再调用): a charge it
answered SYSTEMERROR may land until then, after a reverse that found no trade.

A refund the provider is still processing is queried 1 min after it was asked for, then after
2, 4, 8 ... minutes, at most every hour, as WeChat's refund query guide advises (every minute at
first, less often after five); three days after it was asked for, it is left to staff. WeChat
returns money paid from a bank card in one to three working days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["ends_not_before", "next_poll", "next_refund_check"]

QR_FIRST_DELAY = timedelta(seconds=5)
QR_MAX_DELAY = timedelta(minutes=1)
CODE_FAST_UNTIL = timedelta(seconds=30)
CODE_FAST_DELAY = timedelta(seconds=2)
CODE_SLOW_DELAY = timedelta(seconds=5)
CODE_GIVE_UP = timedelta(seconds=90)
CODE_REVERSE_AFTER = timedelta(seconds=15)
REFUND_FIRST_DELAY = timedelta(minutes=1)
REFUND_MAX_DELAY = timedelta(hours=1)
REFUND_GIVE_UP = timedelta(days=3)


def _qr_next(now: datetime, attempt: int, expires_at: datetime) -> datetime | None:
    if now >= expires_at:
        return None
    delay: timedelta = min(QR_FIRST_DELAY * 2 ** min(attempt, 10), QR_MAX_DELAY)
    return min(now + delay, expires_at)


def _code_next(now: datetime, started_at: datetime) -> datetime | None:
    elapsed = now - started_at
    if elapsed >= CODE_GIVE_UP:
        return None
    delay = CODE_FAST_DELAY if elapsed < CODE_FAST_UNTIL else CODE_SLOW_DELAY
    return min(now + delay, started_at + CODE_GIVE_UP)


def next_poll(
    method: str,
    *,
    now: datetime,
    attempt: int,
    started_at: datetime,
    expires_at: datetime,
) -> datetime | None:
    """When to query next after query number `attempt` (0 first); `None`: give up now."""
    if method == "code":
        return _code_next(now, started_at)
    return _qr_next(now, attempt, expires_at)


def ends_not_before(method: str, *, started_at: datetime) -> datetime:
    """The earliest a payment given up on may be closed (QR, web) or reversed (code)."""
    return started_at + CODE_REVERSE_AFTER if method == "code" else started_at


def next_refund_check(*, now: datetime, attempt: int, asked_at: datetime) -> datetime | None:
    """When to query a refund still processing after attempt number `attempt` (0: the refund
    call itself); `None`: stop, it is for staff now."""
    give_up = asked_at + REFUND_GIVE_UP
    if now >= give_up:
        return None
    delay: timedelta = min(REFUND_FIRST_DELAY * 2 ** min(attempt, 10), REFUND_MAX_DELAY)
    return min(now + delay, give_up)
