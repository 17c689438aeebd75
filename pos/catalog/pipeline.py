"""Check a file in a worker thread while the database writes the parts already checked."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectSendStream

__all__ = ["write_while_checking"]

T = TypeVar("T")


class _Failed(Generic[T]):
    """The checking thread stopped with `error`, to be raised on the event loop's side."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _produce(
    parts: Callable[[], Iterator[T]], send: MemoryObjectSendStream[T | _Failed[T]]
) -> None:
    with send:
        try:
            for part in parts():
                anyio.from_thread.run(send.send, part)
        except anyio.BrokenResourceError:
            pass  # the writer failed and stopped listening; its own error is raised
        except Exception as exc:  # handed over, and raised by write_while_checking
            with contextlib.suppress(anyio.BrokenResourceError):
                anyio.from_thread.run(send.send, _Failed(exc))


async def write_while_checking(
    parts: Callable[[], Iterator[T]], write: Callable[[T], Awaitable[None]]
) -> None:
    """Iterate `parts()` in a worker thread and await `write` on each part, in order.

    The database works on one part while the thread checks the next. An error from either side
    (say InvalidInput after the last part) is raised here as it is, once the thread is done.
    """
    send, receive = anyio.create_memory_object_stream[T | _Failed[T]](max_buffer_size=1)
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(partial(anyio.to_thread.run_sync, _produce, parts, send))
        with receive:
            try:
                async for part in receive:
                    if isinstance(part, _Failed):
                        failure = part.error
                    else:
                        await write(part)
            except Exception as exc:  # raised below, where no task group wraps it
                failure = exc
    if failure is not None:
        raise failure
