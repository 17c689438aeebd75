"""Staff see the forwarding backlog and dead letters, and send dead letters again."""

from __future__ import annotations

import httpx
import pytest

from pos.platform.tables import CertifiedTransaction
from tests.helpers.staff import add_store, login_as
from tests.integration.platform.conftest import (
    MERCHANT,
    SET_ASIDE_REASON,
    pending_rows,
    set_aside_second_sale,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def _kill(transaction_id: str) -> None:
    await _T.update(
        {_T.state: "dead", _T.next_attempt_at: None, _T.attempts: 4, _T.last_error: "HTTP 503"}
    ).where(_T.transaction_id == transaction_id)


async def test_head_office_sees_the_backlog_and_retries_dead_letters(
    client: httpx.AsyncClient,
) -> None:
    await pending_rows(3)
    await _kill(f"{MERCHANT}-S2")
    await login_as(client, "manager", None)
    backlog = (await client.get("/api/platform/backlog")).json()
    assert (backlog["pending"], backlog["sent"], backlog["dead"]) == (2, 0, 1)
    assert backlog["oldest_pending_at"] is not None
    dead = (await client.get("/api/platform/dead-letters")).json()
    assert [(d["transaction_id"], d["attempts"], d["last_error"]) for d in dead] == [
        (f"{MERCHANT}-S2", 4, "HTTP 503")
    ]
    retried = await client.post(f"/api/platform/dead-letters/{MERCHANT}-S2/retry")
    assert retried.json() == {"requeued": 1}
    row = await _T.select(_T.state, _T.attempts).where(_T.transaction_id == f"{MERCHANT}-S2")
    assert row == [{"state": "pending", "attempts": 0}]
    again = await client.post(f"/api/platform/dead-letters/{MERCHANT}-S2/retry")
    assert again.status_code == 404
    assert again.json()["code"] == "dead_letter_not_found"


async def test_retry_all_sends_every_dead_letter_again(client: httpx.AsyncClient) -> None:
    await pending_rows(3)
    for number in (1, 3):
        await _kill(f"{MERCHANT}-S{number}")
    await login_as(client, "manager", None)
    assert (await client.post("/api/platform/dead-letters/retry")).json() == {"requeued": 2}
    assert (await client.get("/api/platform/dead-letters")).json() == []


async def test_the_dead_letter_list_shows_a_set_aside_second_sale_which_cannot_be_retried(
    client: httpx.AsyncClient,
) -> None:
    await pending_rows(1)
    second = await set_aside_second_sale(1)
    await login_as(client, "manager", None)

    listed = await client.get("/api/platform/dead-letters")
    retried = await client.post(f"/api/platform/dead-letters/{second}/retry")

    assert listed.status_code == 200, listed.text
    assert [(d["transaction_id"], d["kind"], d["last_error"]) for d in listed.json()] == [
        (second, "sale_replayed", SET_ASIDE_REASON)
    ]
    assert retried.status_code == 409
    assert retried.json()["code"] == "dead_letter_not_sendable"
    row = await _T.select(_T.state, _T.attempts).where(_T.transaction_id == second)
    assert row == [{"state": "dead", "attempts": 0}]
    assert (await client.post("/api/platform/dead-letters/retry")).json() == {"requeued": 0}
    backlog = (await client.get("/api/platform/backlog")).json()
    assert (backlog["pending"], backlog["dead"]) == (1, 0)  # nothing anyone could act on


async def test_a_store_manager_may_not_see_the_forwarding(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", await add_store())
    response = await client.get("/api/platform/backlog")
    assert response.status_code == 403
