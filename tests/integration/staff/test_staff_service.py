"""Staff service rules that need the database: users, stored secrets, rehashing, expiry."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher

from pos.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from pos.staff import service as staff
from pos.staff import supplier_keys
from pos.staff.passwords import hash_password
from pos.staff.schemas import LoginRequest
from pos.staff.tables import StaffSession, StaffUser, SupplierKey
from tests.helpers.staff import PASSWORD, add_device, add_store, add_supplier, make_user

pytestmark = pytest.mark.anyio


async def test_a_username_is_taken_once_whatever_its_case(db: str) -> None:
    await staff.create_user("Li.Wei", PASSWORD, roles=[("cashier", None)])
    with pytest.raises(Conflict) as refused:
        await staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)])
    assert refused.value.code == "username_taken"


async def test_full_width_letters_name_the_same_user(db: str) -> None:
    # A Chinese input method in full-width mode types "ｌｉ．ｗｅｉ" for "li.wei".
    await staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)])
    _, actor = await staff.login("Ｌｉ．Ｗｅｉ", PASSWORD)
    assert actor.username == "li.wei"
    with pytest.raises(Conflict):
        await staff.create_user("ｌｉ．ｗｅｉ", PASSWORD, roles=[("cashier", None)])


async def test_the_same_name_created_at_once_makes_one_user_and_clear_refusals(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = await hash_password(PASSWORD)

    async def hash_at_once(password: str) -> str:  # argon2 in threads would space them out
        return hashed

    monkeypatch.setattr(staff, "hash_password", hash_at_once)
    created = await asyncio.gather(
        *(staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)]) for _ in range(4)),
        return_exceptions=True,
    )
    refusals = [outcome for outcome in created if isinstance(outcome, BaseException)]
    assert [type(refused) for refused in refusals] == [Conflict] * 3
    assert await StaffUser.count() == 1


@pytest.mark.parametrize(
    ("password", "roles", "code"),
    [("short", [("cashier", None)], "weak_password"), (PASSWORD, [("owner", None)], "bad_role")],
    ids=["short-password", "unknown-role"],
)
async def test_a_new_user_needs_a_real_password_and_known_roles(
    db: str, password: str, roles: list[tuple[str, None]], code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await staff.create_user("li.wei", password, roles=roles)  # type: ignore[arg-type]
    assert refused.value.code == code


async def test_a_password_longer_than_sign_in_takes_is_refused_when_set(
    client: httpx.AsyncClient,
) -> None:
    longest = LoginRequest.model_json_schema()["properties"]["password"]["maxLength"]
    with pytest.raises(InvalidInput) as refused:
        await staff.create_user("li.wei", "x" * (longest + 1), roles=[("cashier", None)])
    assert refused.value.code == "weak_password"
    actor = await make_user("cashier", None)
    with pytest.raises(InvalidInput):
        await staff.set_password(actor.username, "x" * (longest + 1))
    await staff.set_password(actor.username, "x" * longest)
    body = {"username": actor.username, "password": "x" * longest}
    assert (await client.post("/api/staff/session", json=body)).status_code == 200


async def test_a_display_name_longer_than_its_column_is_refused_before_the_database(
    db: str,
) -> None:
    # PostgreSQL would raise StringDataRightTruncationError: a traceback from `pos staff add`.
    with pytest.raises(InvalidInput) as refused:
        await staff.create_user(
            "li.wei", PASSWORD, display_name="名" * 129, roles=[("cashier", None)]
        )
    assert "display name" in refused.value.detail
    assert await StaffUser.count() == 0


async def test_a_display_name_as_long_as_its_column_is_kept(db: str) -> None:
    actor = await staff.create_user(
        "li.wei", PASSWORD, display_name="名" * 128, roles=[("cashier", None)]
    )
    assert (await staff.login("li.wei", PASSWORD))[1].display_name == actor.display_name


async def test_a_role_at_a_missing_store_is_refused(db: str) -> None:
    store_id = await add_store()
    with pytest.raises(NotFound) as refused:
        await staff.create_user("li.wei", PASSWORD, roles=[("manager", store_id + 1)])
    assert refused.value.code == "store_not_found"
    assert await StaffUser.count() == 0


async def test_ensure_user_creates_once_and_then_changes_nothing(db: str) -> None:
    store_id = await add_store()
    first = await staff.ensure_user("wang.fang", PASSWORD, roles=[("manager", store_id)])
    again = await staff.ensure_user("wang.fang", "another password", roles=[("cashier", None)])
    assert again == first
    assert (await staff.login("wang.fang", PASSWORD))[1] == first


async def test_only_a_digest_of_the_session_token_is_stored(db: str) -> None:
    actor = await make_user("cashier", None)
    token, _ = await staff.login(actor.username, PASSWORD)
    stored = await StaffSession.select(StaffSession.token_hash).first()
    assert stored == {"token_hash": hashlib.sha256(token.encode()).hexdigest()}


async def test_login_rehashes_a_hash_made_with_old_parameters(db: str) -> None:
    actor = await make_user("cashier", None)
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    await StaffUser.update({StaffUser.password_hash: old_hash}, force=True)
    await staff.login(actor.username, PASSWORD)
    new_hash = (await StaffUser.select(StaffUser.password_hash).first() or {})["password_hash"]
    assert new_hash != old_hash
    assert PasswordHasher().verify(new_hash, PASSWORD)


async def test_a_deactivated_user_cannot_sign_in(db: str) -> None:
    actor = await make_user("manager", None)
    await StaffUser.update({StaffUser.active: False}, force=True)
    with pytest.raises(NotAuthenticated) as refused:
        await staff.login(actor.username, PASSWORD)
    assert refused.value.code == "bad_credentials"


async def test_a_deactivated_users_sessions_stop_working(db: str) -> None:
    actor = await make_user("manager", None)
    token, _ = await staff.login(actor.username, PASSWORD)
    await StaffUser.update({StaffUser.active: False}, force=True)
    with pytest.raises(NotAuthenticated):
        await staff.staff_for_session(token)


async def test_signing_in_clears_the_users_expired_sessions(db: str) -> None:
    actor = await make_user("cashier", None)
    await staff.login(actor.username, PASSWORD)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await StaffSession.update({StaffSession.expires_at: past}, force=True)
    token, _ = await staff.login(actor.username, PASSWORD)
    assert await StaffSession.count() == 1
    assert (await staff.staff_for_session(token)).user_id == actor.user_id


async def test_a_supplier_key_stores_a_digest_and_a_readable_signing_secret(db: str) -> None:
    supplier_id = await add_supplier()
    issued = await supplier_keys.create_supplier_key(supplier_id)
    stored = await SupplierKey.select(SupplierKey.secret_hash, SupplierKey.signing_secret).first()
    assert stored == {
        "secret_hash": hashlib.sha256(issued.secret.encode()).hexdigest(),
        "signing_secret": issued.signing_secret,
    }
    actor = await supplier_keys.supplier_for_key(issued.api_key)
    assert (actor.supplier_id, actor.key_id) == (supplier_id, issued.key_id)


async def test_a_signing_secret_is_given_for_a_live_key_only(db: str) -> None:
    issued = await supplier_keys.create_supplier_key(await add_supplier())
    assert await supplier_keys.supplier_signing_secret(issued.key_id) == issued.signing_secret
    await SupplierKey.update({SupplierKey.revoked_at: datetime.now(UTC)}, force=True)
    for key_id in (issued.key_id, "sk_unknown"):
        with pytest.raises(NotAuthenticated):
            await supplier_keys.supplier_signing_secret(key_id)


async def test_one_key_sent_at_once_issues_one_device_token(db: str) -> None:
    store_id = await add_store()
    device_id = await add_device(store_id)
    issued = await asyncio.gather(
        *(
            staff.issue_device_token(device_id, store_id=store_id, idempotency_key="pair")
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    refusals = [outcome for outcome in issued if isinstance(outcome, BaseException)]
    assert [getattr(refused, "code", refused) for refused in refusals] == [
        "device_token_already_issued"
    ] * 3
    assert await staff.live_device_tokens([device_id]) == {device_id: 1}


async def test_keys_and_tokens_need_an_existing_supplier_or_device(db: str) -> None:
    with pytest.raises(NotFound):
        await supplier_keys.create_supplier_key(999)
    with pytest.raises(NotFound):
        await staff.issue_device_token(999, store_id=await add_store())
