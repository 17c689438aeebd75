"""Staff operations: users and roles, sign-in sessions, device tokens, supplier API keys.

Every credential handed out is random; only its sha256 is stored, so a database leak reveals
none of them.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

from piccolo.engine.sqlite import SQLiteEngine
from piccolo.query.functions.aggregate import Count

from pos.db import current_engine, write_transaction
from pos.db.keyed import once_per_key
from pos.db.unique import DUPLICATE_KEY, is_unique_violation
from pos.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from pos.staff.actors import ROLE_NAMES, DeviceActor, DeviceKind, RoleName, StaffActor
from pos.staff.credentials import digest, new_token
from pos.staff.passwords import hash_password, needs_rehash, verify_password
from pos.staff.schemas import MAX_PASSWORD_LENGTH, DeviceTokenOut
from pos.staff.tables import DeviceToken, Role, StaffSession, StaffUser
from pos.stores.tables import Device, Store

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "SESSION_LIFETIME",
    "StaffListed",
    "activate_user",
    "create_user",
    "deactivate_user",
    "device_for_token",
    "ensure_user",
    "issue_device_token",
    "list_users",
    "live_device_tokens",
    "login",
    "logout",
    "normal_username",
    "replace_roles",
    "revoke_device_token",
    "revoke_device_tokens",
    "set_password",
    "staff_for_session",
]

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 64
MAX_DISPLAY_NAME_LENGTH = 128


def _now() -> datetime:
    return datetime.now(UTC)


def normal_username(username: str) -> str:
    """The form a username is stored and matched in."""
    # Tablet keyboards capitalise the first letter, and a Chinese input method may type
    # full-width letters: "Li.Wei", "li.wei" and "ｌｉ．ｗｅｉ" are one user.
    return unicodedata.normalize("NFKC", username).strip().lower()


def _check_new_user(
    username: str, password: str, display_name: str, roles: Sequence[tuple[str, int | None]]
) -> None:
    if not 0 < len(username) <= MAX_USERNAME_LENGTH:
        raise InvalidInput(f"a username has 1 to {MAX_USERNAME_LENGTH} characters")
    if len(display_name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidInput(f"a display name has at most {MAX_DISPLAY_NAME_LENGTH} characters")
    _check_password(password)
    _check_roles(roles)


def _check_password(password: str) -> None:
    # No longer than sign-in takes one: a longer password could never be typed in.
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            code="weak_password",
        )


def _check_roles(roles: Sequence[tuple[str, int | None]]) -> None:
    unknown = sorted({role for role, _ in roles} - set(ROLE_NAMES))
    if unknown:
        raise InvalidInput(f"unknown roles {unknown}; known: {list(ROLE_NAMES)}", code="bad_role")


async def create_user(
    username: str,
    password: str,
    *,
    display_name: str = "",
    roles: Sequence[tuple[RoleName, int | None]],
) -> StaffActor:
    """A new staff user holding `roles`, each at a store id or at every store (`None`)."""
    name = normal_username(username)
    _check_new_user(name, password, display_name, roles)
    password_hash = await hash_password(password)
    held = tuple(dict.fromkeys(roles))
    try:
        user_id = await _insert_user(name, display_name, password_hash, held)
    except DUPLICATE_KEY as exc:  # the same name created at the same moment
        if not is_unique_violation(exc):
            raise
        raise _name_taken(name) from None
    return StaffActor(user_id=user_id, username=name, display_name=display_name, roles=held)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"username {name!r} is taken", code="username_taken")


async def _insert_user(
    name: str, display_name: str, password_hash: str, held: Sequence[tuple[RoleName, int | None]]
) -> int:
    async with write_transaction():
        if await StaffUser.exists().where(StaffUser.username == name):
            raise _name_taken(name)
        user = StaffUser(username=name, display_name=display_name, password_hash=password_hash)
        user_id = cast(int, (await StaffUser.insert(user))[0]["id"])
        await _insert_roles(user_id, held)
    return user_id


async def _insert_roles(user_id: int, held: Sequence[tuple[RoleName, int | None]]) -> None:
    """Give the user `held` (in the caller's transaction); NotFound if a store is not there."""
    store_ids = {store_id for _, store_id in held if store_id is not None}
    if store_ids and await Store.count().where(Store.id.is_in([*store_ids])) < len(store_ids):
        raise NotFound(
            f"one of the stores {sorted(store_ids)} does not exist", code="store_not_found"
        )
    if held:
        await Role.insert(*(Role(user=user_id, store=sid, role=role) for role, sid in held))


async def ensure_user(
    username: str,
    password: str,
    *,
    display_name: str = "",
    roles: Sequence[tuple[RoleName, int | None]],
) -> StaffActor:
    """The user named `username`, created as `create_user` would if missing, else unchanged."""
    user = await _user_named(username)
    if user is not None:
        return await _actor_for_user(user)
    return await create_user(username, password, display_name=display_name, roles=roles)


async def _user_named(username: str) -> dict[str, Any] | None:
    return await (
        StaffUser.select(
            StaffUser.id,
            StaffUser.username,
            StaffUser.display_name,
            StaffUser.password_hash,
            StaffUser.active,
        )
        .where(StaffUser.username == normal_username(username))
        .first()
    )


async def _actor_for_user(user: dict[str, Any]) -> StaffActor:
    rows = await Role.select(Role.role, Role.store).where(Role.user == user["id"]).order_by(Role.id)
    return StaffActor(
        user_id=user["id"],
        username=user["username"],
        display_name=user["display_name"],
        roles=tuple((cast(RoleName, row["role"]), row["store"]) for row in rows),
    )


class StaffListed(NamedTuple):
    """A staff user as an operator lists them; a role's store is its code (None: head office)."""

    username: str
    display_name: str
    active: bool
    roles: tuple[tuple[RoleName, str | None], ...]


async def list_users() -> list[StaffListed]:
    """Every staff user, by username, with their roles."""
    users = await StaffUser.select(
        StaffUser.id, StaffUser.username, StaffUser.display_name, StaffUser.active
    ).order_by(StaffUser.username)
    roles = await Role.select(
        Role.user, Role.role, Role.store._.code.as_alias("store_code")
    ).order_by(Role.id)
    held: defaultdict[int, list[tuple[RoleName, str | None]]] = defaultdict(list)
    for role in roles:
        held[role["user"]].append((cast(RoleName, role["role"]), role["store_code"]))
    return [
        StaffListed(user["username"], user["display_name"], user["active"], tuple(held[user["id"]]))
        for user in users
    ]


async def _require_user_id(username: str) -> int:
    """The id of the user named `username` (in any case or width); NotFound `staff_not_found`."""
    name = normal_username(username)
    row = await StaffUser.select(StaffUser.id).where(StaffUser.username == name).first()
    if row is None:
        raise NotFound(f"no staff user {name!r}", code="staff_not_found")
    return cast(int, row["id"])


async def deactivate_user(username: str) -> None:
    """Stop the user signing in, and end every session of theirs at once."""
    async with write_transaction():
        user_id = await _require_user_id(username)
        await StaffUser.update({StaffUser.active: False}).where(StaffUser.id == user_id)
        await StaffSession.delete().where(StaffSession.user == user_id)


async def activate_user(username: str) -> None:
    """Let a deactivated user sign in again, with the password and roles they had."""
    async with write_transaction():
        user_id = await _require_user_id(username)
        await StaffUser.update({StaffUser.active: True}).where(StaffUser.id == user_id)


async def set_password(username: str, password: str) -> None:
    """Give the user a new password (the rules of `create_user`), ending their sessions."""
    _check_password(password)
    password_hash = await hash_password(password)
    async with write_transaction():
        user_id = await _require_user_id(username)
        await StaffUser.update({StaffUser.password_hash: password_hash}).where(
            StaffUser.id == user_id
        )
        await StaffSession.delete().where(StaffSession.user == user_id)


async def replace_roles(username: str, roles: Sequence[tuple[RoleName, int | None]]) -> None:
    """The user holds `roles` from now on, and no others; their sessions see it at once."""
    _check_roles(roles)
    async with write_transaction():
        user_id = await _require_user_id(username)
        await Role.delete().where(Role.user == user_id)
        await _insert_roles(user_id, tuple(dict.fromkeys(roles)))


async def login(username: str, password: str) -> tuple[str, StaffActor]:
    """A new session token for the user, or NotAuthenticated `bad_credentials`."""
    user = await _user_named(username)
    stored_hash = user["password_hash"] if user is not None and user["active"] else None
    if not await verify_password(stored_hash, password) or user is None:
        raise NotAuthenticated("wrong username or password", code="bad_credentials")
    new_hash = await hash_password(password) if needs_rehash(user["password_hash"]) else None
    token, now = new_token(), _now()
    async with write_transaction():
        await _require_unchanged(user)
        await StaffSession.delete().where(
            (StaffSession.user == user["id"]) & (StaffSession.expires_at <= now)
        )
        await StaffSession.insert(
            StaffSession(
                token_hash=digest(token),
                user=user["id"],
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        if new_hash is not None:
            await StaffUser.update({StaffUser.password_hash: new_hash}).where(
                StaffUser.id == user["id"]
            )
    return token, await _actor_for_user(user)


async def _require_unchanged(user: dict[str, Any]) -> None:
    """Refuse the sign-in if the user's password changed, or they were deactivated, while the
    password was checked: that change ended their sessions and must end this one too.

    Locks the user's row (PostgreSQL), so a change waits for this sign-in and then ends it.
    """
    select = StaffUser.select(StaffUser.password_hash, StaffUser.active).where(
        StaffUser.id == user["id"]
    )
    if not isinstance(current_engine(), SQLiteEngine):
        select = select.lock_rows()
    now = await select.first()
    if now is None or not now["active"] or now["password_hash"] != user["password_hash"]:
        raise NotAuthenticated("wrong username or password", code="bad_credentials")


async def logout(token: str) -> None:
    """End the session `token` belongs to, if any."""
    async with write_transaction():
        await StaffSession.delete().where(StaffSession.token_hash == digest(token))


async def staff_for_session(token: str) -> StaffActor:
    """The user a live session token belongs to, or NotAuthenticated `session_invalid`."""
    row = await (
        StaffSession.select(
            StaffSession.expires_at,
            StaffSession.user._.id.as_alias("id"),
            StaffSession.user._.username.as_alias("username"),
            StaffSession.user._.display_name.as_alias("display_name"),
            StaffSession.user._.active.as_alias("active"),
        )
        .where(StaffSession.token_hash == digest(token))
        .first()
    )
    if row is None or not row["active"] or row["expires_at"] <= _now():
        raise NotAuthenticated("the session has expired; sign in again", code="session_invalid")
    return await _actor_for_user(row)


async def issue_device_token(
    device_id: int, *, store_id: int, idempotency_key: str | None = None
) -> DeviceTokenOut:
    """A new bearer token for a device of `store_id`; the token is returned only here.

    A repeat of `idempotency_key` for the device issues none: Conflict
    `device_token_already_issued` naming the first token. Only its digest is stored, so the
    first answer cannot be sent again; a lost one is replaced by revoking that token and
    issuing with a new key (which leaves no unseen token alive).
    """
    key = f"store:{store_id}:device:{device_id}:{idempotency_key}" if idempotency_key else None
    token = new_token()

    async def issued() -> DeviceTokenOut:
        await _require_active_device(device_id, store_id)
        row = DeviceToken(token_hash=digest(token), device=device_id, idempotency_key=key)
        rows = await DeviceToken.insert(row)
        return DeviceTokenOut(
            token_id=rows[0]["id"], device_id=device_id, store_id=store_id, token=token
        )

    return await once_per_key(key, _refuse_issued_token, issued)


async def _refuse_issued_token(key: str) -> None:
    """Conflict `device_token_already_issued` if a token was issued for `key`."""
    row = await DeviceToken.select(DeviceToken.id).where(DeviceToken.idempotency_key == key).first()
    if row is not None:
        token_id = cast(int, row["id"])
        raise Conflict(
            f"token {token_id} was already issued for this Idempotency-Key and is shown only"
            f" once; if its answer was lost, revoke token {token_id} and issue with a new key",
            code="device_token_already_issued",
            token_id=token_id,
        )


async def _require_active_device(device_id: int, store_id: int) -> None:
    """NotFound unless `store_id` has the device; Conflict if its layout left it out."""
    select = Device.select(Device.active).where(
        (Device.id == device_id) & (Device.store == store_id)
    )
    if not isinstance(current_engine(), SQLiteEngine):
        select = select.lock_rows()  # a layout leaving it out must have committed first
    device = await select.first()
    if device is None:
        raise NotFound(f"store {store_id} has no device {device_id}", code="device_not_found")
    if not device["active"]:
        # Its layout left it out, revoking its tokens: one issued now would come alive with it.
        raise Conflict(
            f"device {device_id} is not in its store's layout; add it there first",
            code="device_inactive",
        )


async def revoke_device_token(token_id: int, *, device_id: int, store_id: int) -> None:
    """Stop a device token working; revoking it again changes nothing."""
    async with write_transaction():
        row = await (
            DeviceToken.select(DeviceToken.revoked_at)
            .where(
                (DeviceToken.id == token_id)
                & (DeviceToken.device == device_id)
                & (DeviceToken.device._.store == store_id)
            )
            .first()
        )
        if row is None:
            raise NotFound(f"device {device_id} has no token {token_id}", code="token_not_found")
        if row["revoked_at"] is None:
            await DeviceToken.update({DeviceToken.revoked_at: _now()}).where(
                DeviceToken.id == token_id
            )


async def revoke_device_tokens(device_ids: Sequence[int]) -> None:
    """Stop every token of the devices working (in the caller's transaction, if any)."""
    if device_ids:
        await DeviceToken.update({DeviceToken.revoked_at: _now()}).where(
            DeviceToken.device.is_in(list(device_ids)) & DeviceToken.revoked_at.is_null()
        )


async def live_device_tokens(device_ids: Collection[int]) -> dict[int, int]:
    """How many unrevoked tokens each of the devices holds (those without any are left out)."""
    if not device_ids:
        return {}
    rows = await (
        DeviceToken.select(DeviceToken.device, Count(DeviceToken.id).as_alias("tokens"))
        .where(DeviceToken.device.is_in(list(device_ids)) & DeviceToken.revoked_at.is_null())
        .group_by(DeviceToken.device)
    )
    return {row["device"]: row["tokens"] for row in rows}


async def device_for_token(token: str) -> DeviceActor:
    """The active device holding an unrevoked `token`, or NotAuthenticated `token_invalid`."""
    device = DeviceToken.device._
    row = await (
        DeviceToken.select(
            device.id.as_alias("device_id"),
            device.store.as_alias("store_id"),
            device.counter.as_alias("counter_id"),
            device.kind.as_alias("kind"),
        )
        .where(
            (DeviceToken.token_hash == digest(token))
            & DeviceToken.revoked_at.is_null()
            & device.active.eq(True)
        )
        .first()
    )
    if row is None:
        raise NotAuthenticated("unknown or revoked device token", code="token_invalid")
    return DeviceActor(
        device_id=row["device_id"],
        store_id=row["store_id"],
        counter_id=row["counter_id"],
        kind=cast(DeviceKind, row["kind"]),
    )
