"""Real server processes for cross-process tests, and a small server-sent events reader."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from pos.testing import free_port, start_pos, stop, wait_until_healthy


@contextmanager
def running_servers(count: int, env: Mapping[str, str], logs: Path) -> Iterator[list[str]]:
    """Start `pos serve` on a free port `count` times; yield their URLs once healthy."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for number in range(count):
            port = free_port()
            serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            processes.append(start_pos(serve, {**os.environ, **env}, logs / f"server{number}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        for number, (url, process) in enumerate(zip(urls, processes, strict=True)):
            wait_until_healthy(url, process, logs / f"server{number}.log")
        yield urls
    finally:
        stop(processes)


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Each event of a text/event-stream response as {"event": ..., "data": parsed JSON}."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif line.startswith("event:"):
            event["event"] = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            event["data"] = json.loads(line.removeprefix("data:").strip())
