"""What the pages call the one who acted, from the name a record keeps (`pos.staff.actors`).

Records name a staff user `staff:<id>`, a device `device:<id>`, a counter's QR code `counter:<id>`
and the system by a word of its own (`payments`, `system`, a payment provider ...). Anything else,
or an id that names no row, is shown as it was recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pos.db import MAX_ROW_ID
from pos.staff.actors import DEVICE_KINDS
from pos.staff.tables import StaffUser
from pos.stores.tables import Counter, Device

__all__ = ["MESSAGE_KEYS", "SYSTEM_ACTORS", "ActorLabel", "actor_labels"]

SYSTEM_ACTORS: tuple[str, ...] = ("payments", "system", "shopper", "sandbox", "wechat", "alipay")
"""What the system records as the actor when no person or device acted: the payment flow, an
expiry, the shopper's phone, and the provider whose payment failed."""

_SYSTEM_KEYS = {actor: f"actor.{actor}" for actor in SYSTEM_ACTORS}
_DEVICE_KEYS = {kind: f"actor.device_{kind}" for kind in DEVICE_KINDS}
_COUNTER_KEY = "actor.counter"
MESSAGE_KEYS = frozenset({*_SYSTEM_KEYS.values(), *_DEVICE_KEYS.values(), _COUNTER_KEY})
"""Every message key a label may carry."""


@dataclass(frozen=True, slots=True)
class ActorLabel:
    """How a page names an actor: the message `key` with `name` as its `{name}`, or, without a
    key, `name` itself (a staff user's name, or the actor as recorded)."""

    key: str | None
    name: str


def _row_ids(actors: Iterable[str]) -> dict[str, dict[int, str]]:
    """The actors naming a row, by their kind (`staff`, `device`, `counter`) and row id."""
    found: dict[str, dict[int, str]] = defaultdict(dict)
    for actor in actors:
        kind, _, number = actor.partition(":")
        if kind in ("staff", "device", "counter") and number.isascii() and number.isdigit():
            row_id = int(number)
            if 1 <= row_id <= MAX_ROW_ID:  # a larger id names no row, and would fail the query
                found[kind][row_id] = actor
    return found


async def _staff(ids: Mapping[int, str]) -> dict[str, ActorLabel]:
    rows = await StaffUser.select(StaffUser.id, StaffUser.username, StaffUser.display_name).where(
        StaffUser.id.is_in(list(ids))
    )
    return {
        ids[row["id"]]: ActorLabel(None, row["display_name"] or row["username"]) for row in rows
    }


async def _devices(ids: Mapping[int, str]) -> dict[str, ActorLabel]:
    rows = await Device.select(Device.id, Device.name, Device.kind).where(
        Device.id.is_in(list(ids))
    )
    return {ids[row["id"]]: ActorLabel(_DEVICE_KEYS.get(row["kind"]), row["name"]) for row in rows}


async def _counters(ids: Mapping[int, str]) -> dict[str, ActorLabel]:
    rows = await Counter.select(Counter.id, Counter.name_zh).where(Counter.id.is_in(list(ids)))
    return {ids[row["id"]]: ActorLabel(_COUNTER_KEY, row["name_zh"]) for row in rows}


def _as_recorded(actor: str) -> ActorLabel:
    """A system actor's message, else the actor as recorded."""
    key = _SYSTEM_KEYS.get(actor)
    return ActorLabel(key, "" if key else actor)


_READERS = {"staff": _staff, "device": _devices, "counter": _counters}


async def actor_labels(actors: Iterable[str]) -> dict[str, ActorLabel]:
    """A label for each of `actors`, reading the staff users, devices and counters among them
    with one query per kind."""
    wanted = set(actors)
    labels = {actor: _as_recorded(actor) for actor in wanted}
    for kind, ids in _row_ids(wanted).items():
        labels |= await _READERS[kind](ids)
    return labels
