"""Dead outbox events: listed with their last error, and run again once retried."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pos.cli import main
from pos.db import opened_database
from pos.events import dead, outbox
from pos.events.tables import OutboxEvent

pytestmark = pytest.mark.anyio


async def _kill(kind: str, key: str, attempts: int = outbox.MAX_ATTEMPTS) -> int:
    """Emit an event of `kind` and fail it `attempts` times, when it is dead; its id."""
    await outbox.emit(kind, key, {"n": 1})
    clock = datetime.now(UTC)
    for failed in range(attempts):
        assert (await _event(kind, key))["dead_at"] is None, f"dead after {failed} attempts"
        clock += timedelta(days=1)
        assert await outbox.dispatch_due(now=clock) == 1
    event = await _event(kind, key)
    assert event["dead_at"] is not None
    return int(event["id"])


async def _event(kind: str, key: str) -> dict[str, Any]:
    rows = await OutboxEvent.select(OutboxEvent.id, OutboxEvent.dead_at).where(
        (OutboxEvent.kind == kind) & (OutboxEvent.key == key)
    )
    return rows[0]


async def test_a_patient_kind_dies_only_after_its_patient_attempts(db: str, kind: str) -> None:
    async def handler(event: outbox.Event) -> None:
        raise ConnectionError("the gateway is away")

    outbox.register(kind, handler)
    outbox.patient(kind)
    await _kill(kind, "payment:7", attempts=outbox.PATIENT_ATTEMPTS)


async def test_a_dead_event_is_listed_and_runs_again_once_retried(db: str, kind: str) -> None:
    broken = True
    ran: list[str] = []

    async def handler(event: outbox.Event) -> None:
        if broken:
            raise ValueError("printer on fire")
        ran.append(event.key)

    outbox.register(kind, handler)
    event_id = await _kill(kind, "order:7")
    (listed,) = [event for event in await dead.dead_events() if event.kind == kind]
    assert (listed.id, listed.key, listed.attempts) == (event_id, "order:7", outbox.MAX_ATTEMPTS)
    assert "printer on fire" in listed.last_error
    assert (await dead.outbox_status()).dead >= 1
    broken = False
    assert await dead.retry([event_id]) == 1
    assert await outbox.dispatch_due() == 1
    assert ran == ["order:7"]
    row = await OutboxEvent.select().where(OutboxEvent.id == event_id).first()
    assert row is not None
    assert (row["dead_at"], row["attempts"]) == (None, 1)
    assert row["done_at"] is not None
    assert [event for event in await dead.dead_events() if event.kind == kind] == []


async def test_retrying_one_kind_leaves_the_others_dead(
    db: str, kind: str, other_kind: str
) -> None:
    async def broken(event: outbox.Event) -> None:
        raise ValueError("down")

    outbox.register(kind, broken)
    outbox.register(other_kind, broken)
    await _kill(kind, "a")
    other = await _kill(other_kind, "b")
    assert await dead.retry(kind=kind) == 1
    still_dead = {event.id for event in await dead.dead_events(kind=other_kind)}
    assert still_dead == {other}
    assert await dead.dead_events(kind=kind) == []


async def test_retrying_an_event_that_is_not_dead_changes_nothing(db: str, kind: str) -> None:
    await outbox.emit(kind, "k", {})
    (row,) = await OutboxEvent.select().where(OutboxEvent.kind == kind)
    assert await dead.retry([row["id"]]) == 0
    assert await OutboxEvent.select().where(OutboxEvent.id == row["id"]) == [row]


async def test_retrying_an_id_no_event_can_have_retries_nothing(db: str) -> None:
    # `pos outbox retry 2147483648` (a typo) says "0 dead event(s)": PostgreSQL's ids are int4.
    assert await dead.retry([0, 2**31, 2**63]) == 0


async def test_the_status_counts_due_waiting_and_dead_events(db: str, kind: str) -> None:
    now = datetime.now(UTC)
    before = await dead.outbox_status(now)
    await outbox.emit(kind, "due", {}, available_at=now - timedelta(hours=1))
    await outbox.emit(kind, "later", {}, available_at=now + timedelta(hours=1))
    status = await dead.outbox_status(now)
    assert (status.due, status.waiting) == (before.due + 1, before.waiting + 1)
    assert status.oldest_due_at is not None
    assert status.oldest_due_at <= now - timedelta(hours=1)


async def _dead_row(url: str) -> int:
    async with opened_database(url):
        now = datetime.now(UTC)
        row = OutboxEvent(
            kind="order_paid",
            key="42",
            payload="{}",
            available_at=now,
            attempts=8,
            dead_at=now,
            created_at=now,
        )
        row.last_error = "OrderPaidHandler: ConnectionRefusedError: printer at 10.0.0.9:9100"
        return int((await OutboxEvent.insert(row))[0]["id"])


def test_pos_outbox_lists_and_retries_dead_events(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    env = {"POS_DATABASE_URL": f"sqlite:///{database}"}
    event_id = asyncio.run(_dead_row(env["POS_DATABASE_URL"]))

    status = CliRunner().invoke(main, ["outbox", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "dead: 1" in status.output
    listed = CliRunner().invoke(main, ["outbox", "dead"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"{event_id} order_paid 42" in listed.output
    assert "ConnectionRefusedError: printer at 10.0.0.9:9100" in listed.output
    nothing = CliRunner().invoke(main, ["outbox", "retry"], env=env)
    assert nothing.exit_code != 0
    assert "--all" in nothing.output
    retried = CliRunner().invoke(main, ["outbox", "retry", str(event_id)], env=env)
    assert retried.exit_code == 0, retried.output
    assert retried.output.strip() == "1 dead event(s) due again"
    after = CliRunner().invoke(main, ["outbox", "dead"], env=env)
    assert after.output.strip() == "no dead events"
