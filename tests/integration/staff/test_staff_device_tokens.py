"""Device tokens: only a manager of the store (or of head office) issues and revokes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from pos.errors import NotAuthenticated
from pos.staff import service as staff
from pos.staff.actors import DeviceActor
from tests.helpers.staff import add_counter, add_device, add_store, login_as

pytestmark = pytest.mark.anyio

Call = Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]


def _tokens(store_id: int, device_id: int) -> str:
    return f"/api/stores/{store_id}/devices/{device_id}/tokens"


async def _issue(client: httpx.AsyncClient, store_id: int, device_id: int) -> httpx.Response:
    return await client.post(_tokens(store_id, device_id))


async def _revoke(client: httpx.AsyncClient, store_id: int, device_id: int) -> httpx.Response:
    issued = await staff.issue_device_token(device_id, store_id=store_id)
    return await client.delete(f"{_tokens(store_id, device_id)}/{issued.token_id}")


ENDPOINTS = [pytest.param(_issue, id="issue"), pytest.param(_revoke, id="revoke")]


@pytest.mark.parametrize("call", ENDPOINTS)
async def test_a_missing_credential_is_refused(client: httpx.AsyncClient, call: Call) -> None:
    store_id = await add_store()
    response = await call(client, store_id, await add_device(store_id))
    assert response.status_code == 401
    assert response.json()["code"] == "no_credential"


@pytest.mark.parametrize("call", ENDPOINTS)
async def test_a_cashier_of_the_store_is_refused(client: httpx.AsyncClient, call: Call) -> None:
    store_id = await add_store()
    await login_as(client, "cashier", store_id)
    response = await call(client, store_id, await add_device(store_id))
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_role"


@pytest.mark.parametrize("call", ENDPOINTS)
async def test_a_manager_of_another_store_is_refused(client: httpx.AsyncClient, call: Call) -> None:
    store_id, other_store_id = await add_store(), await add_store()
    await login_as(client, "manager", other_store_id)
    response = await call(client, store_id, await add_device(store_id))
    assert response.status_code == 403
    assert response.json()["code"] == "other_store"


async def test_a_manager_issues_a_token_the_device_can_use(client: httpx.AsyncClient) -> None:
    store_id = await add_store()
    counter_id = await add_counter(store_id)
    device_id = await add_device(store_id, "counter", counter_id=counter_id)
    await login_as(client, "manager", store_id)
    response = await client.post(_tokens(store_id, device_id))
    assert response.status_code == 201
    body = response.json()
    assert (body["device_id"], body["store_id"]) == (device_id, store_id)
    assert await staff.device_for_token(body["token"]) == DeviceActor(
        device_id=device_id, store_id=store_id, counter_id=counter_id, kind="counter"
    )


async def test_a_head_office_manager_issues_tokens_for_any_store(
    client: httpx.AsyncClient,
) -> None:
    store_id = await add_store()
    await login_as(client, "manager", None)
    response = await client.post(_tokens(store_id, await add_device(store_id)))
    assert response.status_code == 201


async def test_a_device_of_another_store_gets_no_token(client: httpx.AsyncClient) -> None:
    store_id, other_store_id = await add_store(), await add_store()
    await login_as(client, "manager", store_id)
    response = await client.post(_tokens(store_id, await add_device(other_store_id)))
    assert response.status_code == 404
    assert response.json()["code"] == "device_not_found"


async def test_a_revoked_token_stops_working_and_revoking_again_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    store_id = await add_store()
    device_id = await add_device(store_id)
    issued = await staff.issue_device_token(device_id, store_id=store_id)
    await login_as(client, "manager", store_id)
    url = f"{_tokens(store_id, device_id)}/{issued.token_id}"
    assert (await client.delete(url)).status_code == 204
    assert (await client.delete(url)).status_code == 204
    with pytest.raises(NotAuthenticated):
        await staff.device_for_token(issued.token)


async def test_revoking_another_devices_token_is_not_found(client: httpx.AsyncClient) -> None:
    store_id = await add_store()
    device_id, other_device_id = await add_device(store_id), await add_device(store_id)
    issued = await staff.issue_device_token(other_device_id, store_id=store_id)
    await login_as(client, "manager", store_id)
    response = await client.delete(f"{_tokens(store_id, device_id)}/{issued.token_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"
    assert await staff.device_for_token(issued.token)


async def test_a_repeated_issue_with_the_same_key_names_the_first_token_and_issues_none(
    client: httpx.AsyncClient,
) -> None:
    store_id = await add_store()
    device_id = await add_device(store_id)
    await login_as(client, "manager", store_id)
    headers = {"Idempotency-Key": "pair-kiosk-7"}
    first = await client.post(_tokens(store_id, device_id), headers=headers)
    repeat = await client.post(_tokens(store_id, device_id), headers=headers)
    assert first.status_code == 201
    assert repeat.status_code == 409
    body = repeat.json()
    assert (body["code"], body["token_id"]) == (
        "device_token_already_issued",
        first.json()["token_id"],
    )
    assert "token" not in body
    assert await staff.live_device_tokens([device_id]) == {device_id: 1}


async def test_one_key_issues_a_token_for_each_device(client: httpx.AsyncClient) -> None:
    store_id = await add_store()
    device_ids = [await add_device(store_id), await add_device(store_id)]
    await login_as(client, "manager", store_id)
    for device_id in device_ids:
        response = await client.post(
            _tokens(store_id, device_id), headers={"Idempotency-Key": "pair"}
        )
        assert response.status_code == 201
    assert await staff.live_device_tokens(device_ids) == dict.fromkeys(device_ids, 1)
