"""An operator's staff administration: sign-ins stopped and restored, passwords, roles, keys."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from pos.catalog.tables import Supplier
from pos.errors import InvalidInput, NotAuthenticated, NotFound
from pos.inventory.signing import signed_headers
from pos.staff import service as staff
from pos.staff import supplier_keys
from pos.staff.tables import Role, StaffSession
from pos.stores.tables import Store
from tests.helpers.staff import PASSWORD, add_device, add_store, add_supplier, make_user

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a new password, long enough"


async def test_deactivating_ends_every_session_at_once_and_activating_lets_them_back(
    db: str,
) -> None:
    actor = await make_user("cashier", None)
    tokens = [(await staff.login(actor.username, PASSWORD))[0] for _ in range(2)]
    await staff.deactivate_user(actor.username.upper())
    assert await StaffSession.count() == 0
    for token in tokens:
        with pytest.raises(NotAuthenticated):
            await staff.staff_for_session(token)
    with pytest.raises(NotAuthenticated):
        await staff.login(actor.username, PASSWORD)
    await staff.activate_user(actor.username)
    assert (await staff.login(actor.username, PASSWORD))[1] == actor


async def test_a_new_password_replaces_the_old_and_ends_their_sessions(db: str) -> None:
    actor = await make_user("manager", None)
    token, _ = await staff.login(actor.username, PASSWORD)
    await staff.set_password(actor.username, NEW_PASSWORD)
    with pytest.raises(NotAuthenticated):
        await staff.staff_for_session(token)
    with pytest.raises(NotAuthenticated):
        await staff.login(actor.username, PASSWORD)
    assert (await staff.login(actor.username, NEW_PASSWORD))[1] == actor


@pytest.mark.parametrize(
    "change",
    [
        lambda name: staff.set_password(name, NEW_PASSWORD),
        lambda name: staff.deactivate_user(name),
    ],
    ids=["new password", "deactivated"],
)
async def test_a_sign_in_whose_password_was_checked_before_a_change_gets_no_session(
    db: str, monkeypatch: pytest.MonkeyPatch, change: Callable[[str], Awaitable[None]]
) -> None:
    actor = await make_user("manager", None)
    check_password = staff.verify_password

    async def changed_while_checking(password_hash: str | None, password: str) -> bool:
        matches = await check_password(password_hash, password)
        await change(actor.username)  # lands while the old password is being checked
        return matches

    monkeypatch.setattr(staff, "verify_password", changed_while_checking)
    with pytest.raises(NotAuthenticated) as refused:
        await staff.login(actor.username, PASSWORD)

    assert refused.value.code == "bad_credentials"
    assert await StaffSession.count() == 0
    await staff.activate_user(actor.username)
    assert await StaffSession.count() == 0


async def test_a_new_password_follows_the_rules_of_a_new_user(db: str) -> None:
    actor = await make_user("manager", None)
    token, _ = await staff.login(actor.username, PASSWORD)
    with pytest.raises(InvalidInput) as refused:
        await staff.set_password(actor.username, "short")
    assert refused.value.code == "weak_password"
    assert (await staff.staff_for_session(token)) == actor


async def test_replaced_roles_are_the_only_ones_and_live_sessions_see_them(db: str) -> None:
    first, second = await add_store(), await add_store()
    actor = await make_user("cashier", first)
    token, _ = await staff.login(actor.username, PASSWORD)
    await staff.replace_roles(actor.username, [("manager", first), ("manager", second)])
    assert (await staff.staff_for_session(token)).roles == (("manager", first), ("manager", second))


@pytest.mark.parametrize(
    ("roles", "error", "code"),
    [
        ([("owner", None)], InvalidInput, "bad_role"),
        ([("manager", 10**6)], NotFound, "store_not_found"),
    ],
    ids=["unknown-role", "missing-store"],
)
async def test_roles_refused_leave_the_users_roles_as_they_were(
    db: str, roles: list[tuple[str, int | None]], error: type[Exception], code: str
) -> None:
    store_id = await add_store()
    actor = await make_user("cashier", store_id)
    with pytest.raises(error) as refused:
        await staff.replace_roles(actor.username, roles)  # type: ignore[arg-type]
    assert getattr(refused.value, "code", None) == code
    assert await Role.select(Role.role, Role.store) == [{"role": "cashier", "store": store_id}]


@pytest.mark.parametrize(
    "change",
    [
        staff.deactivate_user,
        staff.activate_user,
        lambda name: staff.set_password(name, NEW_PASSWORD),
        lambda name: staff.replace_roles(name, [("manager", None)]),
    ],
    ids=["deactivate", "activate", "password", "roles"],
)
async def test_a_change_to_a_user_not_there_is_staff_not_found(db: str, change: object) -> None:
    with pytest.raises(NotFound) as refused:
        await change("nobody")  # type: ignore[operator]
    assert (refused.value.code, refused.value.detail) == (
        "staff_not_found",
        "no staff user 'nobody'",
    )


async def test_the_list_names_each_users_roles_by_store_code(db: str) -> None:
    store_id = await add_store()
    store = await Store.select(Store.code).where(Store.id == store_id).first()
    assert store is not None
    await staff.create_user("b.head", PASSWORD, display_name="总部", roles=[("manager", None)])
    await staff.create_user("a.shop", PASSWORD, roles=[("cashier", store_id)])
    await staff.deactivate_user("a.shop")
    assert await staff.list_users() == [
        staff.StaffListed("a.shop", "", False, (("cashier", store["code"]),)),
        staff.StaffListed("b.head", "总部", True, (("manager", None),)),
    ]


async def test_live_device_tokens_counts_the_unrevoked_ones(db: str) -> None:
    store_id = await add_store()
    kiosk, tablet = await add_device(store_id), await add_device(store_id, "tablet")
    first = await staff.issue_device_token(kiosk, store_id=store_id)
    await staff.issue_device_token(kiosk, store_id=store_id)
    await staff.revoke_device_token(first.token_id, device_id=kiosk, store_id=store_id)
    assert await staff.live_device_tokens([kiosk, tablet]) == {kiosk: 1}


async def test_a_revoked_supplier_key_is_refused_at_once_signature_and_all(
    client: httpx.AsyncClient,
) -> None:
    supplier_id = await add_supplier()
    issued = await supplier_keys.create_supplier_key(supplier_id)
    body = json.dumps({"updates": []}).encode()

    async def push() -> httpx.Response:
        headers = {"X-Api-Key": issued.api_key, "Content-Type": "application/json"}
        headers |= signed_headers(issued.signing_secret, body, datetime.now(UTC))
        return await client.post(
            f"/api/suppliers/{supplier_id}/stock", content=body, headers=headers
        )

    assert (await push()).status_code == 422  # signed well; no update in it
    revoked = await supplier_keys.revoke_supplier_key(issued.key_id)
    response = await push()
    assert (response.status_code, response.json()["code"]) == (401, "api_key_invalid")
    with pytest.raises(NotAuthenticated):
        await supplier_keys.supplier_signing_secret(issued.key_id)
    assert await supplier_keys.revoke_supplier_key(issued.key_id) == revoked  # its first time stays
    assert await supplier_keys.list_supplier_keys(supplier_id) == [revoked]


async def test_revoking_one_key_leaves_the_suppliers_others_working(db: str) -> None:
    supplier_id = await add_supplier()
    kept, revoked = [await supplier_keys.create_supplier_key(supplier_id) for _ in range(2)]
    await supplier_keys.revoke_supplier_key(revoked.key_id)
    assert (await supplier_keys.supplier_for_key(kept.api_key)).key_id == kept.key_id
    listed = await supplier_keys.list_supplier_keys(supplier_id)
    assert [(key.key_id, key.revoked_at is None) for key in listed] == [
        (kept.key_id, True),
        (revoked.key_id, False),
    ]


async def test_suppliers_are_found_by_credit_code_and_unknown_keys_are_not(db: str) -> None:
    supplier_id = await add_supplier()
    row = await Supplier.select(Supplier.credit_code).where(Supplier.id == supplier_id).first()
    assert row is not None
    assert (await supplier_keys.supplier_by_credit_code(row["credit_code"])).id == supplier_id
    assert await supplier_keys.list_supplier_keys(supplier_id) == []
    with pytest.raises(NotFound) as unknown_supplier:
        await supplier_keys.supplier_by_credit_code("91350200MA2XXXXXXX")
    assert unknown_supplier.value.code == "supplier_not_found"
    with pytest.raises(NotFound) as unknown_key:
        await supplier_keys.revoke_supplier_key("sk_0000000000000000")
    assert unknown_key.value.code == "supplier_key_not_found"
