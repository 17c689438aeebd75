"""Role rules: a role counts at its own store, a head-office role at every store."""

from __future__ import annotations

import pytest

from pos.staff.actors import RoleName, StaffActor
from pos.staff.guards import staff


def _actor(*roles: tuple[RoleName, int | None]) -> StaffActor:
    return StaffActor(user_id=1, username="li.wei", display_name="李伟", roles=roles)


def test_a_role_counts_at_its_own_store() -> None:
    assert _actor(("manager", 7)).has_role(["manager"], 7)


def test_a_role_does_not_count_at_another_store() -> None:
    assert not _actor(("manager", 7)).has_role(["manager"], 8)


def test_another_role_at_the_same_store_does_not_count() -> None:
    assert not _actor(("cashier", 7)).has_role(["manager"], 7)


def test_any_of_several_roles_counts() -> None:
    assert _actor(("restocker", 7)).has_role(["manager", "restocker"], 7)


def test_a_head_office_role_counts_at_every_store() -> None:
    actor = _actor(("manager", None))
    assert actor.has_role(["manager"], 7)
    assert actor.has_role(["manager"], 8)


def test_head_office_work_needs_a_head_office_role() -> None:
    assert not _actor(("manager", 7)).has_role(["manager"], None)
    assert _actor(("manager", 7), ("manager", None)).has_role(["manager"], None)


def test_a_user_without_roles_has_none() -> None:
    assert not _actor().has_role(["manager", "restocker", "cashier"], 7)


def test_a_staff_guard_needs_at_least_one_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        staff()
