from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from pos.payments.polling import ends_not_before, next_poll, next_refund_check

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EXPIRES = START + timedelta(minutes=5)


def _schedule(method: str) -> list[float]:
    """Seconds after START of every query until the schedule gives up."""
    at, attempt, times = START, 0, []
    while (
        following := next_poll(
            method, now=at, attempt=attempt, started_at=START, expires_at=EXPIRES
        )
    ) is not None:
        at, attempt = following, attempt + 1
        times.append((at - START).total_seconds())
    return times


def test_qr_payment_is_queried_with_doubling_delays_capped_at_a_minute() -> None:
    times = _schedule("qr")
    assert times[:5] == [5, 15, 35, 75, 135]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == 60


def test_qr_payment_is_queried_last_at_the_order_expiry_then_given_up() -> None:
    assert _schedule("qr")[-1] == 300
    assert next_poll("qr", now=EXPIRES, attempt=9, started_at=START, expires_at=EXPIRES) is None


def test_payer_code_is_queried_every_2_s_for_30_s_then_every_5_s_to_90_s() -> None:
    times = _schedule("code")
    assert times[:15] == [2 * n for n in range(1, 16)]
    assert times[15:] == [35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90]


def test_payer_code_is_given_up_at_90_s_even_if_the_order_lasts_longer() -> None:
    later = START + timedelta(seconds=90)
    assert next_poll("code", now=later, attempt=27, started_at=START, expires_at=EXPIRES) is None


def test_a_payer_code_given_up_on_is_reversed_no_sooner_than_15_s_after_its_charge() -> None:
    assert ends_not_before("code", started_at=START) == START + timedelta(seconds=15)
    assert ends_not_before("qr", started_at=START) == START
    assert ends_not_before("web", started_at=START) == START


def _refund_checks() -> list[float]:
    """Minutes after START of every query of a refund asked for at START, until they end."""
    at, attempt, times = START, 0, []
    while (following := next_refund_check(now=at, attempt=attempt, asked_at=START)) is not None:
        at, attempt = following, attempt + 1
        times.append((at - START).total_seconds() / 60)
    return times


def test_a_processing_refund_is_queried_after_1_min_then_doubling_to_an_hour() -> None:
    times = _refund_checks()
    assert times[:7] == [1, 3, 7, 15, 31, 63, 123]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == 60


def test_a_processing_refund_is_queried_last_three_days_after_it_was_asked_for() -> None:
    times = _refund_checks()
    assert times[-1] == 3 * 24 * 60
    assert len(times) < 80
    later = START + timedelta(days=3)
    assert next_refund_check(now=later, attempt=len(times), asked_at=START) is None
