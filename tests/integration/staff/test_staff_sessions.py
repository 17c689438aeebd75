"""Tablet sign-in: the session cookie, who is signed in, sign-out, expiry and rate limiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar

from pos.app import create_app
from pos.settings import Settings
from pos.staff.login_limit import LOGIN_TRIES, USER_LOGIN_TRIES
from pos.staff.tables import StaffSession
from tests.helpers.staff import PASSWORD, add_store, login_as, make_user

pytestmark = pytest.mark.anyio

SESSION = "/api/staff/session"
PAGE_LOGIN = "/staff/login"
GUESS = {"username": "nobody", "password": "guess-123456"}


async def test_login_sets_a_strict_httponly_cookie_and_returns_the_user(
    client: httpx.AsyncClient,
) -> None:
    store_id = await add_store()
    actor = await make_user("manager", store_id)
    response = await client.post(SESSION, json={"username": actor.username, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {
        "user_id": actor.user_id,
        "username": actor.username,
        "display_name": "",
        "roles": [{"role": "manager", "store_id": store_id}],
    }
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("pos_session=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie


async def test_the_cookie_is_secure_when_the_public_url_is_https(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"public_url": "https://pos.example.cn"}))
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://pos.test") as http:
            actor = await make_user("cashier", None)
            body = {"username": actor.username, "password": PASSWORD}
            response = await http.post(SESSION, json=body)
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower()


async def test_the_username_is_not_case_sensitive(client: httpx.AsyncClient) -> None:
    actor = await make_user("cashier", None)
    body = {"username": f" {actor.username.capitalize()}", "password": PASSWORD}
    assert (await client.post(SESSION, json=body)).status_code == 200


async def test_a_wrong_password_and_an_unknown_user_are_refused_alike(
    client: httpx.AsyncClient,
) -> None:
    actor = await make_user("cashier", None)
    wrong_password = await client.post(
        SESSION, json={"username": actor.username, "password": "not the password"}
    )
    unknown_user = await client.post(SESSION, json={"username": "nobody", "password": PASSWORD})
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json()["code"] == "bad_credentials"
        assert "set-cookie" not in response.headers
    assert wrong_password.json()["detail"] == unknown_user.json()["detail"]


async def test_me_answers_with_the_signed_in_user(client: httpx.AsyncClient) -> None:
    actor = await login_as(client, "restocker", None)
    response = await client.get(SESSION)
    assert response.status_code == 200
    assert response.json()["user_id"] == actor.user_id
    assert response.json()["roles"] == [{"role": "restocker", "store_id": None}]


async def test_me_without_a_session_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(SESSION)
    assert response.status_code == 401
    assert response.json()["code"] == "no_credential"


async def test_an_unknown_session_is_refused(client: httpx.AsyncClient) -> None:
    client.cookies.set("pos_session", "made-up")
    response = await client.get(SESSION)
    assert response.status_code == 401
    assert response.json()["code"] == "session_invalid"


async def test_an_expired_session_is_refused(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", None)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await StaffSession.update({StaffSession.expires_at: past}, force=True)
    response = await client.get(SESSION)
    assert response.status_code == 401
    assert response.json()["code"] == "session_invalid"


async def test_logout_ends_the_session_and_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await login_as(client, "cashier", None)
    token = client.cookies["pos_session"]
    response = await client.delete(SESSION)
    assert response.status_code == 204
    assert 'pos_session=""' in response.headers["set-cookie"]
    client.cookies.set("pos_session", token)
    assert (await client.get(SESSION)).status_code == 401


async def test_logout_without_a_session_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.delete(SESSION)
    assert response.status_code == 401


async def test_login_attempts_are_rate_limited_per_client(client: httpx.AsyncClient) -> None:
    body = {"username": "nobody", "password": "guess"}
    statuses = [(await client.post(SESSION, json=body)).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    response = await client.post(SESSION, json=body)
    assert response.json()["code"] == "rate_limited"


def _checked(statuses: list[int]) -> list[int]:
    """The answers of tries that got past the limit: their password was checked."""
    return [status for status in statuses if status != 429]


async def test_a_burst_on_the_api_and_the_page_together_checks_one_budget_of_passwords(
    client: httpx.AsyncClient,
) -> None:
    async def on_api() -> int:
        return (await client.post(SESSION, json=GUESS)).status_code

    async def on_page() -> int:
        return (await client.post(PAGE_LOGIN, data=GUESS)).status_code

    statuses = await asyncio.gather(*(on_api() if i % 2 else on_page() for i in range(30)))

    assert len(_checked(statuses)) == LOGIN_TRIES, sorted(statuses)


@pytest.mark.redis
async def test_a_burst_over_two_app_servers_sharing_redis_checks_one_budget_of_passwords(
    settings: Settings, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url})
    first, second = create_app(shared), create_app(shared)
    async with first.lifespan(), second.lifespan():
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pos.test")
            for app in (first, second)
        ]
        try:
            responses = await asyncio.gather(
                *(clients[i % 2].post(SESSION, json=GUESS) for i in range(30))
            )
        finally:
            for http in clients:
                await http.aclose()

    assert len(_checked([r.status_code for r in responses])) == LOGIN_TRIES


async def _try_from(app: Litestar, address: str, body: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as http:
        return await http.post(SESSION, json=body)


async def test_guesses_at_one_user_from_many_addresses_spend_that_users_budget(
    app: Litestar,
) -> None:
    target, other = await make_user("manager", None), await make_user("cashier", None)
    spellings = [target.username, target.username.upper(), f" {target.username.capitalize()}"]
    statuses = [
        (
            await _try_from(
                app, f"198.51.100.{n}", {"username": spellings[n % 3], "password": "guess-123"}
            )
        ).status_code
        for n in range(USER_LOGIN_TRIES + 1)
    ]

    assert statuses == [401] * USER_LOGIN_TRIES + [429]
    right = {"username": target.username, "password": PASSWORD}
    assert (await _try_from(app, "203.0.113.1", right)).status_code == 429
    others = {"username": other.username, "password": PASSWORD}
    assert (await _try_from(app, "203.0.113.2", others)).status_code == 200


async def test_the_tablet_page_spends_the_same_budget_of_the_user(app: Litestar) -> None:
    target = await make_user("manager", None)
    guess = {"username": target.username, "password": "guess-123"}
    for n in range(USER_LOGIN_TRIES):
        await _try_from(app, f"198.51.100.{n}", guess)

    transport = httpx.ASGITransport(app=app, client=("203.0.113.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as http:
        on_page = await http.post(PAGE_LOGIN, data={**guess, "password": PASSWORD})

    assert on_page.status_code == 429


async def test_a_refused_try_says_when_the_budget_comes_back(client: httpx.AsyncClient) -> None:
    for _ in range(LOGIN_TRIES):
        await client.post(SESSION, json=GUESS)

    response = await client.post(SESSION, json=GUESS)

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["ratelimit-limit"] == str(LOGIN_TRIES)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 < int(response.headers["ratelimit-reset"]) <= 60
    assert response.headers["retry-after"] == response.headers["ratelimit-reset"]


async def test_every_answer_to_a_try_says_how_many_are_left(client: httpx.AsyncClient) -> None:
    actor = await make_user("cashier", None)
    wrong = await client.post(SESSION, json=GUESS)
    right = await client.post(SESSION, json={"username": actor.username, "password": PASSWORD})
    signed_in = await client.get(SESSION)

    assert (wrong.status_code, right.status_code) == (401, 200)
    assert wrong.headers["ratelimit-remaining"] == str(LOGIN_TRIES - 1)
    assert right.headers["ratelimit-remaining"] == str(LOGIN_TRIES - 2)
    assert right.headers["ratelimit-policy"] == f"{LOGIN_TRIES}; w=60"
    assert "retry-after" not in right.headers
    assert "ratelimit-remaining" not in signed_in.headers  # not a try
