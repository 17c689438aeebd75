"""The sign-in budget on each backend (in-process and Redis): every try counted exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from pos.budgets import Budget as LoginLimit
from pos.budgets import budget_key
from pos.staff.login_limit import WINDOW_SECONDS, create_login_limit

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limit(request: pytest.FixtureRequest) -> AsyncIterator[LoginLimit]:
    if request.param == "memory":
        yield create_login_limit(None, prefix="unused")
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    yield create_login_limit(redis, prefix=f"pos_test_{uuid.uuid4().hex[:8]}")
    await redis.aclose()


async def test_racing_tries_each_get_their_own_count(limit: LoginLimit) -> None:
    tries = await asyncio.gather(*(limit.count_try("10.0.0.7") for _ in range(25)))

    assert sorted(t.spent for t in tries) == list(range(1, 26))
    assert all(0 < t.resets_in <= WINDOW_SECONDS for t in tries)


async def test_each_client_address_has_its_own_budget(limit: LoginLimit) -> None:
    for _ in range(3):
        await limit.count_try("10.0.0.7")

    assert (await limit.count_try("10.0.0.8")).spent == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("10.0.0.7", "10.0.0.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one host may pick any address of its /64
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:10.0.0.7", "10.0.0.7"),  # an IPv4 client on a dual-stack socket
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_client_spends_the_budget_of_its_64(address: str, key: str) -> None:
    assert budget_key(address) == key


async def test_with_redis_away_tries_are_counted_in_the_process() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    limit = create_login_limit(redis, prefix="unused")

    counted = [await limit.count_try("10.0.0.7") for _ in range(2)]

    assert [t.spent for t in counted] == [1, 2]
    await redis.aclose()
