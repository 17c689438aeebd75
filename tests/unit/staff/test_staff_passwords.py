"""argon2id hashing: verification, and rehashing when the parameters change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from pos.staff.passwords import hash_password, needs_rehash, verify_password

pytestmark = pytest.mark.anyio


async def test_a_hash_is_argon2id_and_verifies_its_password() -> None:
    password_hash = await hash_password("correct horse")
    assert password_hash.startswith("$argon2id$")
    assert await verify_password(password_hash, "correct horse")


async def test_a_wrong_password_does_not_verify() -> None:
    assert not await verify_password(await hash_password("correct horse"), "correct horsf")


async def test_an_unknown_user_never_verifies() -> None:
    assert not await verify_password(None, "no such user")


async def test_a_damaged_hash_does_not_verify() -> None:
    assert not await verify_password("$argon2id$garbage", "correct horse")


async def test_hashes_need_a_rehash_only_when_made_with_other_parameters() -> None:
    assert not needs_rehash(await hash_password("correct horse"))
    assert needs_rehash(PasswordHasher(time_cost=1, memory_cost=8192).hash("correct horse"))
