"""A NUL in a request's text is a 422 before any work (PostgreSQL's text cannot hold one)."""

from __future__ import annotations

import httpx
import pytest

from pos.inventory import service as inventory
from tests.helpers.shop import open_shop
from tests.helpers.staff import login_as

pytestmark = pytest.mark.anyio


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "text_nul"


async def test_a_nul_in_a_json_body_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)
    await login_as(client, "manager", shop.store_id)

    response = await client.post(
        f"/api/stores/{shop.store_id}/inventory/movements",
        json={"product_id": product, "kind": "write_off", "quantity": 1, "reason": "bad\x00"},
    )

    _refused(response)
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 5


async def test_a_nul_in_a_sign_in_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/staff/session", json={"username": "man\x00ager", "password": "x" * 8}
    )

    _refused(response)


async def test_a_nul_in_a_json_body_labelled_as_text_is_refused(client: httpx.AsyncClient) -> None:
    # Litestar decodes a route's JSON `data` whatever the Content-Type says.
    body = b'{"username": "man\\u0000ager", "password": "xxxxxxxx"}'

    response = await client.post(
        "/api/staff/session", content=body, headers={"content-type": "text/plain"}
    )

    _refused(response)


async def test_a_nul_in_a_query_string_is_refused(client: httpx.AsyncClient) -> None:
    shop = await open_shop()

    response = await client.get(f"/api/counters/{shop.counter_id}/products", params={"q": "面\x00"})

    _refused(response)


async def test_a_nul_in_the_path_is_refused(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", None)

    response = await client.post("/api/platform/dead-letters/XM%00-S1/retry")

    _refused(response)


async def test_a_nul_in_a_form_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/staff/login", data={"username": "a\x00", "password": "x"})

    assert response.status_code == 422, response.text  # a page: the problem as HTML


async def test_a_nul_in_a_multipart_form_is_refused(client: httpx.AsyncClient) -> None:
    fields = {"username": (None, "a\x00"), "password": (None, "x")}

    response = await client.post("/staff/login", files=fields)

    assert response.status_code == 422, response.text


async def test_text_that_only_looks_like_a_nul_passes(client: httpx.AsyncClient) -> None:
    shop = await open_shop()

    response = await client.get(f"/api/counters/{shop.counter_id}/products", params={"q": "100%"})

    assert response.status_code == 200, response.text
