from __future__ import annotations

from datetime import timedelta

from pos.events.outbox import BACKOFF_FIRST, BACKOFF_LONGEST, retry_delay


def test_retry_delay_doubles_with_jitter() -> None:
    for attempts in range(1, 6):
        nominal = BACKOFF_FIRST * 2 ** (attempts - 1)
        delays = [retry_delay(attempts) for _ in range(50)]
        assert all(nominal / 2 <= delay <= nominal for delay in delays)
        assert len(set(delays)) > 1


def test_retry_delay_is_capped() -> None:
    assert BACKOFF_LONGEST / 2 <= retry_delay(40) <= BACKOFF_LONGEST
    assert retry_delay(1) >= timedelta(seconds=2)
