"""An HTTP server that answers 200 a byte at a time, each well within any read timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

DRIP_EVERY_S = 0.5
DRIPS = 20


@asynccontextmanager
async def dripping_server() -> AsyncIterator[str]:
    """Its URL for the block; on leaving, waits until the client hung up (or the drip ended)."""
    hung_up = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _ in range(DRIPS):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(DRIP_EVERY_S)
        except ConnectionError:
            pass  # the client gave up
        finally:
            writer.close()
            hung_up.set()

    async with await asyncio.start_server(drip, "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        await hung_up.wait()
