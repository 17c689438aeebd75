"""Wake-up calls within one process: writers `notify` after committing work, loops wait for it.

Each kind of work has its own `Signal` (outbox events, print jobs), so a loop wakes only for
work it can take. A loop that is busy between its waits holds a `Listener`: a notify that comes
while it works is kept for its next wait instead of being lost until the next poll.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["Listener", "Signal"]


class Listener:
    """Remembers whether a notify came since its last wait."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        """Wake the listener now, or at its next wait."""
        self._event.set()

    async def set_when(self, event: anyio.Event) -> None:
        """Wake the listener once `event` is set (run it as a task, e.g. with a stop event)."""
        await event.wait()
        self.set()

    async def wait(self, seconds: float) -> None:
        """Wait for a notify since the last wait, for at most `seconds`."""
        with anyio.move_on_after(seconds):
            await self._event.wait()
        self._event = anyio.Event()


class Signal:
    """A wake-up call for one kind of work in this process."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def notify(self) -> None:
        """Wake everyone waiting for this kind of work; call after committing some."""
        for listener in self._listeners:
            listener.set()

    @contextmanager
    def listen(self) -> Iterator[Listener]:
        """A listener that keeps every notify from now until the context closes."""
        listener = Listener()
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
