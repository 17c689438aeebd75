from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_unknown_route_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert body["instance"] == "/api/nothing-here"


async def test_bad_parameter_is_a_400_problem_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/counters/1/products", params={"limit": "lots"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert any("limit" in str(error) for error in body["errors"])


async def test_an_id_past_the_id_range_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/counters/{2**31}/products")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "counter_id"


async def test_domain_error_keeps_its_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/counters/999/products")
    assert response.status_code == 404
    assert response.json()["code"] == "counter_not_found"


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    operations = {
        operation["operationId"]
        for path in response.json()["paths"].values()
        for operation in path.values()
    }
    assert {"health", "counterCatalog"} <= operations
