"""A clock for code that takes one (`Payments.clock`, `PrintSender`): it moves when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
