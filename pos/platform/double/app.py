"""The platform double: the receiving side of the national platform, for demos and tests.

It checks each request's signature and timestamp (per-merchant keys, as the relay signs them),
stores transactions and rating documents once per id, answers daily totals (ratings count in
none), shows each rating as its latest revision says, and can be told to fail through
`PUT /control/failure`: `error` answers a status without storing, `timeout` waits `delay_s`
and then answers 504 without storing, `slow` stores and then waits `delay_s` before answering
(the case where a sender gives up on an answer for something that did arrive). `remaining`
limits how many requests fail; null means until told otherwise. Control needs no signature:
the double listens on 127.0.0.1 only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_504_GATEWAY_TIMEOUT
from pydantic import BaseModel, Field, ValidationError

from pos.errors import InvalidInput, NotAuthenticated, NotFound
from pos.platform.double.books import Counts, PlatformBooks, PlatformRating
from pos.platform.schemas import BatchIn, BatchResult, DailyTotals, DailyTotalsQuery
from pos.platform.signing import MERCHANT_HEADER, SignatureRefused, check_signed, merchant_key
from pos.problems import exception_handlers
from pos.settings import Settings

__all__ = ["Double", "Failure", "create_double_app"]


class Failure(BaseModel):
    """How the double misbehaves on the platform API, and for how many more requests."""

    mode: Literal["none", "error", "timeout", "slow"] = "none"
    status: int = Field(default=503, ge=400, le=599)
    delay_s: float = Field(default=0.0, ge=0, le=600)
    remaining: int | None = Field(default=None, ge=0, description="null: until changed")


@dataclass(slots=True)
class Double:
    """The double's storage, keys and current failure mode."""

    books: PlatformBooks
    settings: Settings
    failure: Failure

    def take_failure(self) -> Failure:
        """The failure to apply to this request ("none" once `remaining` runs out)."""
        failure = self.failure
        if failure.mode == "none" or failure.remaining == 0:
            return Failure()
        if failure.remaining is not None:
            self.failure = failure.model_copy(update={"remaining": failure.remaining - 1})
        return failure


async def _verified_body(request: Request[Any, Any, Any], double: Double) -> tuple[str, bytes]:
    body = await request.body()
    merchant_id = request.headers.get(MERCHANT_HEADER, "")
    try:
        check_signed(
            request.headers,
            body,
            key=merchant_key(double.settings, merchant_id),
            now=int(time.time()),
            max_skew_s=double.settings.platform_max_skew_s,
        )
    except SignatureRefused as exc:
        raise NotAuthenticated(str(exc), code="signature_refused") from None
    return merchant_id, body


@post("/api/v1/transactions", status_code=HTTP_200_OK, operation_id="receiveTransactions")
async def receive_transactions(
    request: Request[Any, Any, Any], double: NamedDependency[Double]
) -> Response[Any]:
    """Store a signed batch of documents; known ids are answered as duplicates."""
    failure = double.take_failure()
    if failure.mode == "error":
        return Response({"detail": "told to fail"}, status_code=failure.status)
    if failure.mode == "timeout":
        await anyio.sleep(failure.delay_s)
        return Response({"detail": "told to time out"}, status_code=HTTP_504_GATEWAY_TIMEOUT)
    merchant_id, body = await _verified_body(request, double)
    try:
        batch = BatchIn.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(f"not a batch of documents: {exc.error_count()} errors") from None
    result: BatchResult = await anyio.to_thread.run_sync(
        double.books.record, merchant_id, batch.transactions
    )
    if failure.mode == "slow":
        await anyio.sleep(failure.delay_s)
    return Response(result)


@post("/api/v1/daily-totals", status_code=HTTP_200_OK, operation_id="dailyTotals")
async def daily_totals(
    request: Request[Any, Any, Any], double: NamedDependency[Double]
) -> DailyTotals:
    """A merchant's net totals of one business day, per transaction, product, county, supplier."""
    merchant_id, body = await _verified_body(request, double)
    try:
        query = DailyTotalsQuery.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(f"not a totals query: {exc.error_count()} errors") from None
    if query.merchant_id != merchant_id:
        raise InvalidInput("the query's merchant is not the signer", code="other_merchant")
    totals: DailyTotals = await anyio.to_thread.run_sync(
        double.books.daily_totals, merchant_id, query.business_day
    )
    return totals


@get("/health", operation_id="doubleHealth")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@put("/control/failure", operation_id="setFailure")
async def set_failure(data: JSONBody[Failure], double: NamedDependency[Double]) -> Failure:
    """Make the platform API fail from now on (mode "none": behave again)."""
    double.failure = data
    return data


@get("/control/counts", operation_id="counts")
async def counts(double: NamedDependency[Double]) -> Counts:
    """Transactions stored and deliveries received."""
    result: Counts = await anyio.to_thread.run_sync(double.books.counts)
    return result


@get("/control/ratings", operation_id="ratings")
async def ratings(double: NamedDependency[Double]) -> list[PlatformRating]:
    """Every rating received, as the platform shows it now."""
    result: list[PlatformRating] = await anyio.to_thread.run_sync(double.books.ratings)
    return result


@get("/control/transactions/{transaction_id:str}", operation_id="deliveries")
async def deliveries(
    transaction_id: FromPath[str], double: NamedDependency[Double]
) -> dict[str, int]:
    """How many times a document (a transaction or a rating's) arrived."""
    return {"deliveries": await anyio.to_thread.run_sync(double.books.deliveries, transaction_id)}


@delete(
    "/control/transactions/{transaction_id:str}",
    status_code=HTTP_204_NO_CONTENT,
    operation_id="forgetTransaction",
)
async def forget(transaction_id: FromPath[str], double: NamedDependency[Double]) -> None:
    """Forget a document, as if it had been lost at the platform."""
    if not await anyio.to_thread.run_sync(double.books.delete, transaction_id):
        raise NotFound(f"no transaction {transaction_id}")


def create_double_app(database: Path, settings: Settings) -> Litestar:
    """The double, keeping what it receives in the SQLite file `database`."""
    double = Double(PlatformBooks(database), settings, Failure())

    async def close_books() -> None:
        double.books.close()

    return Litestar(
        route_handlers=[
            receive_transactions,
            daily_totals,
            health,
            set_failure,
            counts,
            ratings,
            deliveries,
            forget,
        ],
        dependencies={"double": Provide(lambda: double, sync_to_thread=False)},
        state=State({"double": double}),
        on_shutdown=[close_books],
        exception_handlers={kind: fn for kind, fn in exception_handlers.items()},
        openapi_config=None,
        logging_config=None,
    )
