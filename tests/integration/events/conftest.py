"""Outbox fixtures: event kinds of the test's own, and a worker running for a block."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import pytest

from pos.events import outbox
from pos.worker import run_worker


@contextmanager
def _own_kind() -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:8]}"
    yield name
    for fn in list(outbox._handlers.get(name, [])):
        outbox.unregister(name, fn)
    outbox._families.pop(name, None)
    outbox._patient.discard(name)


@pytest.fixture
def kind() -> Iterator[str]:
    """An event kind of this test's own, its handlers unregistered afterwards."""
    with _own_kind() as name:
        yield name


@pytest.fixture
def other_kind() -> Iterator[str]:
    """A second event kind of this test's own, its handlers unregistered afterwards."""
    with _own_kind() as name:
        yield name


@asynccontextmanager
async def running_worker() -> AsyncIterator[None]:
    """`run_worker` in the background for the block, stopped on leaving it.

    It idles for up to 30 s, so an event the block's assertions wait for ran because something
    woke the worker, not because it polled again.
    """
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_worker(stop, idle_seconds=30))
        try:
            yield
        finally:
            stop.set()  # the dispatcher and the listener wait on it too: no notify needed
