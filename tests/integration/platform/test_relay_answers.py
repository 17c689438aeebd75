"""What the relay does with each answer of the platform, and with a merchant it has no key for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pos.platform import service as platform
from pos.platform.relay import Relay
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from tests.integration.platform.conftest import (
    MERCHANT,
    DoubleServer,
    forward_all,
    made_up_sale,
    pending_rows,
    states,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction
OTHER = "XM-TEST-0002"
REAL = "https://platform.example.cn"


class Requests:
    """A client for the double that counts the requests the relay makes."""

    def __init__(self, url: str) -> None:
        self.made = 0
        self.client = httpx.AsyncClient(
            base_url=url, event_hooks={"request": [self._count]}, timeout=5
        )

    async def _count(self, request: httpx.Request) -> None:
        self.made += 1


@pytest.fixture
async def requests(double: DoubleServer) -> AsyncIterator[Requests]:
    counted = Requests(double.url)
    async with counted.client:
        yield counted


async def _pending_of_other_merchant(number: int) -> str:
    doc = made_up_sale(number).model_copy(
        update={"merchant_id": OTHER, "transaction_id": f"{OTHER}-S{number}"}
    )
    await _T.insert(
        _T(
            transaction_id=doc.transaction_id,
            kind="sale",
            order_id=number,
            store_id=2,
            merchant_id=OTHER,
            business_day=doc.business_day,
            amount_fen=doc.amount_fen,
            body=doc.model_dump_json(),
            next_attempt_at=datetime.now(UTC),
        )
    )
    return doc.transaction_id


async def _row(transaction_id: str) -> dict[str, object]:
    row = await _T.select(_T.state, _T.attempts, _T.last_error).where(
        _T.transaction_id == transaction_id
    )
    return row[0]


async def test_a_merchant_without_a_key_is_never_signed_for_with_the_demo_key(
    tmp_path: Path, settings: Settings, double_port: int, db: str
) -> None:
    # The platform knows both merchants; this POS was given the key of the first one only.
    keys = {MERCHANT: SecretStr("key-of-the-test-merchant"), OTHER: SecretStr("key-of-the-other")}
    double = DoubleServer(
        tmp_path / "platform.sqlite3",
        settings.model_copy(update={"platform_merchant_keys": keys}),
        double_port,
    )
    await double.start()
    try:
        counted = Requests(double.url)
        real = settings.model_copy(update={"platform_url": REAL})
        await pending_rows(2)
        other = await _pending_of_other_merchant(7)
        async with counted.client:
            assert await Relay(real, counted.client).round() == 3
            assert counted.made == 1  # the first merchant's batch; nothing signed for the other
            assert await states() == {
                f"{MERCHANT}-S1": "sent",
                f"{MERCHANT}-S2": "sent",
                other: "dead",
            }
            error = str((await _row(other))["last_error"])
            assert f"add {OTHER} to POS_PLATFORM_MERCHANT_KEYS" in error
            assert "retry" in error
            assert [letter.transaction_id for letter in await platform.dead_letters()] == [other]

            # The operator adds the key and restarts; staff retry the dead letter.
            fixed = real.model_copy(update={"platform_merchant_keys": keys})
            assert (await platform.retry_dead(other)).requeued == 1
            await forward_all(Relay(fixed, counted.client))
        assert (await states())[other] == "sent"
        assert await double.deliveries(other) == 1
    finally:
        double.stop()


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_signature_says_what_to_check_and_is_not_split(
    status: int, double: DoubleServer, requests: Requests, settings: Settings, db: str
) -> None:
    await double.start()
    if status == 401:  # the double's own refusal: this POS signs with a key it does not know
        wrong = {MERCHANT: SecretStr("a-key-the-platform-does-not-know")}
        settings = settings.model_copy(update={"platform_merchant_keys": wrong})
    else:
        await double.fail("error", status=403)
    await pending_rows(3)
    assert await Relay(settings, requests.client).round() == 3
    assert requests.made == 1
    assert set((await states()).values()) == {"pending"}
    row = await _row(f"{MERCHANT}-S1")
    assert row["attempts"] == 1
    error = str(row["last_error"])
    assert error.startswith(f"HTTP {status}")
    assert f"{MERCHANT}'s key in POS_PLATFORM_MERCHANT_KEYS" in error
    assert "clock" in error
    assert "POS_PLATFORM_MAX_SKEW_S" in error


async def test_a_batch_answered_409_is_split_and_nothing_is_taken_as_sent_unstored(
    double: DoubleServer, requests: Requests, settings: Settings, db: str
) -> None:
    await double.start()
    await double.fail("error", status=409, remaining=1)
    await pending_rows(3)
    assert await Relay(settings, requests.client).round() == 3
    assert requests.made == 3  # the whole batch, then its halves
    assert set((await states()).values()) == {"sent"}
    assert await double.counts() == {"transactions": 3, "deliveries": 3}


async def test_a_document_answered_409_alone_dies_unsent_with_the_platform_s_reason(
    double: DoubleServer, relay: Relay, db: str
) -> None:
    await double.start()
    await double.fail("error", status=409)
    await pending_rows(1)
    await forward_all(relay)
    row = await _row(f"{MERCHANT}-S1")
    assert (row["state"], row["attempts"]) == ("dead", 1)
    assert str(row["last_error"]).startswith("refused: HTTP 409")
    assert await double.counts() == {"transactions": 0, "deliveries": 0}


async def test_a_409_whose_body_lists_a_document_as_accepted_does_not_mark_it_sent(db: str) -> None:
    def conflict(request: httpx.Request) -> httpx.Response:
        accepted = [f"{MERCHANT}-S1"]
        return httpx.Response(409, json={"accepted": accepted, "duplicates": [], "rejected": []})

    await pending_rows(1)
    settings = Settings(_env_file=None, platform_url="http://127.0.0.1:9")  # type: ignore[call-arg]
    transport = httpx.MockTransport(conflict)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9") as client:
        await Relay(settings, client).round()
    assert (await _row(f"{MERCHANT}-S1"))["state"] == "dead"


@pytest.mark.parametrize("status", [404, 405])
async def test_a_platform_url_that_answers_not_found_says_to_check_it(
    status: int, double: DoubleServer, relay: Relay, db: str
) -> None:
    await double.start()
    await double.fail("error", status=status)
    await pending_rows(1)
    await relay.round()
    row = await _row(f"{MERCHANT}-S1")
    assert row["state"] == "pending"
    assert str(row["last_error"]).startswith(f"HTTP {status}")
    assert "POS_PLATFORM_URL" in str(row["last_error"])
