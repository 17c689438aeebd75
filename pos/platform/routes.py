"""Staff API: the forwarding backlog, dead letters, and sending them again (head office)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from pos.platform import service
from pos.platform.schemas import BacklogOut, DeadLetterOut, RequeuedOut
from pos.staff.guards import staff

__all__ = ["PlatformController"]


class PlatformController(Controller):
    path = "/api/platform"
    tags = ("platform",)
    guards = [staff("manager", head_office=True)]

    @get("/backlog", operation_id="platformBacklog", summary="Certified transactions by state")
    async def backlog(self) -> BacklogOut:
        return await service.backlog()

    @get("/dead-letters", operation_id="platformDeadLetters", summary="Transactions given up on")
    async def dead_letters(self) -> list[DeadLetterOut]:
        return await service.dead_letters()

    @post(
        "/dead-letters/retry",
        operation_id="platformRetryAllDead",
        status_code=HTTP_200_OK,
        summary="Send every dead transaction again",
    )
    async def retry_all(self) -> RequeuedOut:
        return await service.retry_dead()

    @post(
        "/dead-letters/{transaction_id:str}/retry",
        operation_id="platformRetryDead",
        status_code=HTTP_200_OK,
        summary="Send one dead transaction again",
    )
    async def retry_one(self, transaction_id: FromPath[str]) -> RequeuedOut:
        return await service.retry_dead(transaction_id)
