"""The platform double checks signatures and clock skew, dedupes, and keeps to the signer."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import SecretStr

from pos.platform.signing import merchant_key, signed_headers
from pos.settings import Settings
from tests.integration.platform.conftest import MERCHANT, DoubleServer, made_up_sale

pytestmark = pytest.mark.anyio


async def _post(
    double: DoubleServer, body: bytes, *, key: bytes, merchant: str = MERCHANT, skew: int = 0
) -> httpx.Response:
    headers = signed_headers(key, merchant, int(time.time()) + skew, body)
    async with httpx.AsyncClient(base_url=double.url) as client:
        return await client.post("/api/v1/transactions", content=body, headers=headers)


def _batch(*numbers: int) -> bytes:
    docs = [json.loads(made_up_sale(number).model_dump_json()) for number in numbers]
    return json.dumps({"transactions": docs}).encode()


@pytest.fixture
def settings(double_port: int) -> Settings:
    """The double needs no POS database: these tests run once, not per database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        platform_merchant_keys={MERCHANT: SecretStr("key-of-the-test-merchant")},
    )


@pytest.fixture
def key(settings: Settings) -> bytes:
    return merchant_key(settings, MERCHANT)


async def test_a_signed_batch_is_stored_once_and_a_resend_is_a_duplicate(
    double: DoubleServer, key: bytes
) -> None:
    await double.start()
    first = await _post(double, _batch(1, 2), key=key)
    again = await _post(double, _batch(2, 3), key=key)
    assert first.json() == {
        "accepted": [f"{MERCHANT}-S1", f"{MERCHANT}-S2"],
        "duplicates": [],
        "rejected": [],
    }
    assert again.json()["accepted"] == [f"{MERCHANT}-S3"]
    assert again.json()["duplicates"] == [f"{MERCHANT}-S2"]
    assert await double.counts() == {"transactions": 3, "deliveries": 4}


async def test_a_bad_signature_or_an_old_timestamp_is_refused(
    double: DoubleServer, key: bytes
) -> None:
    await double.start()
    forged = await _post(double, _batch(1), key=b"not-the-key")
    stale = await _post(double, _batch(1), key=key, skew=-301)
    assert (forged.status_code, forged.json()["code"]) == (401, "signature_refused")
    assert stale.status_code == 401
    assert "more than 300 s" in stale.json()["detail"]
    assert await double.counts() == {"transactions": 0, "deliveries": 0}


async def test_a_transaction_of_another_merchant_than_the_signer_is_rejected(
    double: DoubleServer, settings: Settings
) -> None:
    await double.start()
    other = "XM-OTHER"
    response = await _post(double, _batch(1), key=merchant_key(settings, other), merchant=other)
    assert response.json()["accepted"] == []
    assert response.json()["rejected"][0]["transaction_id"] == f"{MERCHANT}-S1"


async def test_a_malformed_batch_is_a_422(double: DoubleServer, key: bytes) -> None:
    await double.start()
    response = await _post(double, b'{"transactions": [{"kind": "sale"}]}', key=key)
    assert response.status_code == 422
