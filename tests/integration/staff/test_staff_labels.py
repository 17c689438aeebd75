"""Naming who acted on the tablet's pages: a staff user's, a device's or a counter's name."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pos.db import current_engine
from pos.staff import service as staff
from pos.staff.actors import device_name, staff_name
from pos.staff.labels import ActorLabel, actor_labels
from pos.stores.tables import Counter, Device
from tests.helpers.staff import PASSWORD, add_counter, add_device, add_store

pytestmark = pytest.mark.anyio


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements run from now on."""
    engine = type(current_engine())
    run = engine.run_querystring
    seen: list[str] = []

    async def counted(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(querystring))
        return await run(self, querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", counted)
    return seen


async def test_staff_devices_and_counters_are_named_one_query_each(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = await staff.create_user("li.wei", PASSWORD, display_name="李伟", roles=[])
    plain = await staff.create_user("zhao", PASSWORD, roles=[])
    store = await add_store()
    counter = await add_counter(store)
    kiosk, tablet = await add_device(store, "kiosk"), await add_device(store, "tablet")
    names = {row["id"]: row["name"] for row in await Device.select(Device.id, Device.name)}
    actors = [
        staff_name(named.user_id),
        staff_name(plain.user_id),
        device_name(kiosk),
        device_name(tablet),
        f"counter:{counter}",
    ]
    statements = _statements(monkeypatch)

    labels = await actor_labels([*actors, *actors])

    assert labels == {
        staff_name(named.user_id): ActorLabel(None, "李伟"),
        staff_name(plain.user_id): ActorLabel(None, "zhao"),
        device_name(kiosk): ActorLabel("actor.device_kiosk", names[kiosk]),
        device_name(tablet): ActorLabel("actor.device_tablet", names[tablet]),
        f"counter:{counter}": ActorLabel("actor.counter", "柜台"),
    }
    tables = sorted(re.findall(r'FROM "(\w+)"', " ".join(statements)))
    assert tables == ["counter", "device", "staff_user"], statements


async def test_system_actors_get_their_message_and_need_no_query(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = _statements(monkeypatch)

    labels = await actor_labels(["payments", "system", "shopper", "wechat"])

    assert labels == {
        "payments": ActorLabel("actor.payments", ""),
        "system": ActorLabel("actor.system", ""),
        "shopper": ActorLabel("actor.shopper", ""),
        "wechat": ActorLabel("actor.wechat", ""),
    }
    assert statements == []


@pytest.mark.parametrize(
    "actor",
    [
        "staff:4242",  # no such user
        "device:4242",
        "counter:4242",
        "staff:99999999999",  # past what an id holds: names no row, and fails no query
        "staff:x",
        "staff:-1",
        "device:",
        "cli:root",
        "pos demo",
        "worker:7",
    ],
)
async def test_an_actor_naming_no_row_keeps_its_recorded_name(db: str, actor: str) -> None:
    assert await actor_labels([actor]) == {actor: ActorLabel(None, actor)}


async def test_a_deleted_device_or_counter_keeps_its_recorded_name(db: str) -> None:
    store = await add_store()
    counter = await add_counter(store)
    device = await add_device(store)
    await Device.delete().where(Device.id == device)
    await Counter.delete().where(Counter.id == counter)

    labels = await actor_labels([device_name(device), f"counter:{counter}"])

    assert labels == {
        device_name(device): ActorLabel(None, device_name(device)),
        f"counter:{counter}": ActorLabel(None, f"counter:{counter}"),
    }


async def test_no_actors_need_no_query(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    statements = _statements(monkeypatch)
    assert await actor_labels([]) == {}
    assert statements == []
