"""A payment double's HTTP server: an aiohttp app on a free port of 127.0.0.1."""

from __future__ import annotations

from aiohttp import web


class LoopbackServer:
    """Serves an app between `serve` and `stop`; `url` is its root once it serves."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
