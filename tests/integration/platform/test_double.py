"""The platform double checks signatures and clock skew, dedupes, and keeps to the signer."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from pos.platform.schemas import RatingDoc, RatingWithdrawalDoc
from pos.platform.signing import (
    MERCHANT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    merchant_key,
    signed_headers,
)
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


def _ratings(*docs: RatingDoc | RatingWithdrawalDoc) -> bytes:
    return json.dumps(
        {"transactions": [json.loads(doc.model_dump_json()) for doc in docs]}
    ).encode()


def _rating_doc(revision: int, *, withdrawn: bool = False) -> RatingDoc | RatingWithdrawalDoc:
    """A document of rating 12 of the made-up sale 1: the submission, or a moderation."""
    withdrawal = RatingWithdrawalDoc(
        kind="rating_withdrawal",
        transaction_id=f"{MERCHANT}-E12" + (f"-M{revision}" if revision else ""),
        original_transaction_id=f"{MERCHANT}-S1",
        merchant_id=MERCHANT,
        rating_id=12,
        revision=revision,
        occurred_at=datetime.now(UTC),
        business_day=datetime.now(UTC).date(),
        line_no=1,
        certificate_no="CERT1",
    )
    if withdrawn:
        return withdrawal
    fields = withdrawal.model_dump(exclude={"kind"})
    return RatingDoc(**fields, kind="rating", stars=5, comment="好吃")


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


async def test_a_timestamp_not_of_a_few_ascii_digits_is_refused_with_401(
    double: DoubleServer,
) -> None:
    await double.start()
    # "²" is a digit to str.isdigit(), and int() refuses 5,000 digits.
    for stamp in [b"\xb2", b"9" * 5000]:
        headers = {
            b"content-type": b"application/json",
            MERCHANT_HEADER.encode(): MERCHANT.encode(),
            TIMESTAMP_HEADER.encode(): stamp,
            SIGNATURE_HEADER.encode(): b"00",
        }
        async with httpx.AsyncClient(base_url=double.url) as client:
            response = await client.post("/api/v1/transactions", content=_batch(1), headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "signature_refused")


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


async def test_an_amount_or_a_rating_id_past_64_bits_is_a_422(
    double: DoubleServer, key: bytes
) -> None:
    await double.start()
    sale = json.loads(made_up_sale(1).model_dump_json())
    sale["amount_fen"] = sale["lines"][0]["amount_fen"] = 2**63
    rating = json.loads(_rating_doc(0).model_dump_json())
    rating["rating_id"] = 2**63
    for doc in [sale, rating]:
        response = await _post(double, json.dumps({"transactions": [doc]}).encode(), key=key)
        assert response.status_code == 422, response.text
    assert await double.counts() == {"transactions": 0, "deliveries": 0}
    assert await double.ratings() == []


async def test_rating_documents_are_deduped_and_the_highest_revision_decides(
    double: DoubleServer, key: bytes
) -> None:
    await double.start()
    await _post(double, _batch(1), key=key)  # the rated sale
    forged = await _post(double, _ratings(_rating_doc(0)), key=b"not-the-key")
    assert forged.status_code == 401
    # The withdrawal overtook the submission: arrival order does not matter.
    first = await _post(double, _ratings(_rating_doc(7, withdrawn=True), _rating_doc(0)), key=key)
    again = await _post(double, _ratings(_rating_doc(0)), key=key)
    assert first.json()["accepted"] == [f"{MERCHANT}-E12-M7", f"{MERCHANT}-E12"]
    assert again.json()["duplicates"] == [f"{MERCHANT}-E12"]
    [withdrawn] = await double.ratings()
    assert (withdrawn.shown, withdrawn.stars, withdrawn.documents) == (False, None, 2)
    assert withdrawn.deliveries == 3
    await _post(double, _ratings(_rating_doc(9)), key=key)
    [shown] = await double.ratings()
    assert (shown.shown, shown.stars, shown.comment, shown.transaction_id) == (
        True,
        5,
        "好吃",
        f"{MERCHANT}-S1",
    )
    assert await double.counts() == {"transactions": 1, "deliveries": 1}  # the sale alone


def _reversal_of_sale_1() -> dict[str, object]:
    sale = made_up_sale(1)
    reversal = sale.model_copy(
        update={
            "transaction_id": f"{MERCHANT}-R1-1",
            "kind": "reversal",
            "original_transaction_id": sale.transaction_id,
        }
    )
    return json.loads(reversal.model_dump_json())  # type: ignore[no-any-return]


async def test_a_reversal_or_a_rating_of_a_sale_it_does_not_have_is_rejected(
    double: DoubleServer, key: bytes
) -> None:
    await double.start()
    rating = json.loads(_rating_doc(0).model_dump_json())
    orphans = json.dumps({"transactions": [_reversal_of_sale_1(), rating]}).encode()
    refused = await _post(double, orphans, key=key)
    assert refused.status_code == 200
    assert refused.json()["accepted"] == []
    rejected = refused.json()["rejected"]
    assert [r["transaction_id"] for r in rejected] == [f"{MERCHANT}-R1-1", f"{MERCHANT}-E12"]
    assert all(f"no sale {MERCHANT}-S1" in r["reason"] for r in rejected)
    assert await double.counts() == {"transactions": 0, "deliveries": 0}
    assert await double.ratings() == []
    # The sale first, in the same batch: then both are taken.
    sale = json.loads(made_up_sale(1).model_dump_json())
    batch = json.dumps({"transactions": [sale, _reversal_of_sale_1(), rating]}).encode()
    taken = await _post(double, batch, key=key)
    assert taken.json()["accepted"] == [f"{MERCHANT}-S1", f"{MERCHANT}-R1-1", f"{MERCHANT}-E12"]
