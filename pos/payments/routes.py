"""Payments API: start a payment, take provider notifications, refund; the sandbox wallet page."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.status_codes import HTTP_200_OK
from pydantic import BaseModel, Field

from pos.db import MAX_ROW_ID, RowId
from pos.errors import Forbidden, NotFound, Unavailable
from pos.idempotency import IdempotencyKey
from pos.nul_guard import KEEPS_NUL
from pos.orders import service as orders
from pos.payments import flags, refunds, service, wallet
from pos.payments.sandbox import SandboxProvider
from pos.payments.schemas import (
    FlaggedPaymentOut,
    PaymentOut,
    RefundOut,
    RefundRequest,
    ResolveFlagIn,
    StartPayment,
)
from pos.payments.settle import Payments
from pos.settings import Settings
from pos.staff.actors import DeviceActor, StaffActor
from pos.staff.guards import STAFF_ACTOR, device, staff

__all__ = [
    "PAYMENTS",
    "FlaggedPaymentController",
    "NotifyController",
    "OrderPaymentController",
    "RefundController",
    "SandboxWalletController",
]

_Connection = ASGIConnection[Any, Any, Any, Any]
_device_guard = device("kiosk", "counter")


def provide_payments(request: Request[Any, Any, Any]) -> Payments:
    """Dependency: the payments context the app was built with."""
    payments: Payments = request.app.state["payments"]
    return payments


PAYMENTS = Provide(provide_payments, sync_to_thread=False)


def _by_order_token(connection: _Connection) -> bool:
    """Whether the caller comes with the order's `?token=` alone: its shopper's phone, or anyone
    who ordered from a counter's public QR code."""
    return not connection.headers.get("authorization")


def _payer(connection: _Connection) -> str:
    """Who starts a payment, as the order's history names it: the shopper, or the device."""
    if _by_order_token(connection):
        return "shopper"
    actor: DeviceActor = connection.state.actor  # set by `order_payer`
    return actor.name


async def order_payer(connection: _Connection, route: BaseRouteHandler) -> None:
    """Guard: a kiosk or counter device of the order's store, or the shopper's `?token=`."""
    order_id = int(connection.path_params["order_id"])
    if not 1 <= order_id <= MAX_ROW_ID:
        # Guards run before Litestar checks the handler's `FromPath[RowId]`.
        raise NotFound(f"no order {order_id}", code="order_not_found")
    if _by_order_token(connection):
        await orders.check_access(order_id, connection.query_params.get("token", ""))
        return
    await cast(Awaitable[None], _device_guard(connection, route))
    actor: DeviceActor = connection.state.actor
    if await orders.store_of(order_id) != actor.store_id:
        raise Forbidden("this order belongs to another store", code="other_store")


class OrderPaymentController(Controller):
    path = "/api/orders/{order_id:int}/payments"
    tags = ("payments",)
    guards = (order_payer,)
    dependencies = {"payments": PAYMENTS}

    @post(
        operation_id="startPayment",
        summary="Pay an order by QR code, payer-presented code or the provider's phone page",
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[RowId],
        data: JSONBody[StartPayment],
        payments: NamedDependency[Payments],
        settings: NamedDependency[Settings],
        idempotency_key: IdempotencyKey,
    ) -> PaymentOut:
        """`qr` answers the URL to show as a QR code; `code` (a kiosk or counter device only)
        charges the code the shopper shows its scanner; `web` (with the order's token) answers
        the provider's page to send the phone's browser to."""
        token = request.query_params.get("token")
        browser = None
        if token and data.method == "web":
            client_ip = request.client.host if request.client else ""
            browser = service.phone_browser(settings.public_url, order_id, token, client_ip)
        return await service.start_payment(
            payments,
            order_id,
            data,
            idempotency_key=idempotency_key,
            actor=_payer(request),
            browser=browser,
            by_shopper=_by_order_token(request),
        )

    @get(operation_id="orderPayments", summary="An order's payments, and why any failed")
    async def list_payments(self, order_id: FromPath[RowId]) -> list[PaymentOut]:
        """Oldest first, each as it stands now: a code charge answered "user paying" ends
        `paid`, or `reversed` with the provider's reason in `failure`."""
        return await service.order_payments(order_id)


class NotifyController(Controller):
    path = "/api/payments/notify"
    tags = ("payments",)
    dependencies = {"payments": PAYMENTS}

    @post(
        "/{provider:str}",
        operation_id="paymentNotification",
        status_code=HTTP_200_OK,
        summary="A provider's signed notification (public; signature-checked)",
        opt=KEEPS_NUL,
    )
    async def notify(
        self,
        provider: FromPath[str],
        request: Request[Any, Any, Any],
        payments: NamedDependency[Payments],
    ) -> Response[bytes]:
        """4xx for an unsigned, forged, stale or replayed one; a duplicate still answers 200.

        The answer is the provider's own acknowledgement (WeChat: JSON, Alipay: `success`).
        """
        body = await request.body()
        await service.receive_notification(payments, provider, dict(request.headers), body)
        ack = payments.provider.acknowledgement
        return Response(ack.body, media_type=ack.media_type)


class RefundController(Controller):
    path = "/api/stores/{store_id:int}/orders/{order_id:int}/refunds"
    tags = ("payments",)
    guards = (staff("manager", "cashier"),)
    dependencies = {"payments": PAYMENTS, "actor": STAFF_ACTOR}

    @post(operation_id="refundOrder", summary="Refund all or part of an order's payment")
    async def refund(
        self,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        data: JSONBody[RefundRequest],
        payments: NamedDependency[Payments],
        actor: NamedDependency[StaffActor],
        idempotency_key: IdempotencyKey,
    ) -> RefundOut:
        """Through the provider; `restock` puts returned goods back into stock."""
        return await refunds.refund_order(
            payments,
            order_id,
            data,
            store_id=store_id,
            actor=actor,
            idempotency_key=idempotency_key,
        )


class FlaggedPaymentController(Controller):
    path = "/api/stores/{store_id:int}/payments/flagged"
    tags = ("payments",)
    guards = (staff("manager", "cashier"),)
    dependencies = {"payments": PAYMENTS, "actor": STAFF_ACTOR}

    @get(operation_id="flaggedPayments", summary="Payments and refunds staff should look at")
    async def flagged(
        self, store_id: FromPath[RowId], resolved: FromQuery[bool] = False
    ) -> list[FlaggedPaymentOut]:
        """Amounts that did not match, refunds the provider refused, stranded or left processing,
        each flag on its own; `resolved`: those done."""
        return await flags.flagged(store_id, resolved=resolved)

    @post(
        "/{payment_id:int}/resolve",
        operation_id="resolvePaymentFlag",
        summary="Say what was done about a flagged payment",
        status_code=HTTP_200_OK,
    )
    async def resolve(
        self,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        data: JSONBody[ResolveFlagIn],
        actor: NamedDependency[StaffActor],
    ) -> FlaggedPaymentOut:
        """Kept with who and when; resolving it again answers the same."""
        return await flags.resolve(store_id, payment_id, data.note, actor=actor)

    @post(
        "/{payment_id:int}/refunds/{refund_id:int}/resolve",
        operation_id="resolveRefundFlag",
        summary="Say what was done about a flagged refund",
        status_code=HTTP_200_OK,
    )
    async def resolve_refund(
        self,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        refund_id: FromPath[RowId],
        data: JSONBody[ResolveFlagIn],
        actor: NamedDependency[StaffActor],
    ) -> FlaggedPaymentOut:
        """Kept with who and when; the payment's other flags stay open."""
        return await flags.resolve(
            store_id, payment_id, data.note, actor=actor, refund_id=refund_id
        )

    @post(
        "/{payment_id:int}/refunds/{refund_id:int}/check",
        operation_id="checkFlaggedRefund",
        summary="Ask the provider again about a flagged refund",
        status_code=HTTP_200_OK,
    )
    async def check_refund(
        self,
        store_id: FromPath[RowId],
        payment_id: FromPath[RowId],
        refund_id: FromPath[RowId],
        payments: NamedDependency[Payments],
        actor: NamedDependency[StaffActor],
        idempotency_key: IdempotencyKey,
    ) -> RefundOut:
        """Settled (`succeeded`, `failed`) as its own checks would have; `pending`: the provider
        is still processing it, and it stays flagged; 503 when the provider does not answer."""
        return await refunds.check_again(
            payments, store_id, payment_id, refund_id, actor=actor, idempotency_key=idempotency_key
        )


class WalletForm(BaseModel):
    payer: str = Field(default="sandbox-shopper", min_length=1, max_length=64)


def _sandbox(payments: Payments) -> SandboxProvider:
    if not isinstance(payments.provider, SandboxProvider):
        raise Unavailable("the sandbox wallet is off", code="sandbox_off")
    return payments.provider


class SandboxWalletController(Controller):
    path = "/sandbox/pay/{out_trade_no:str}"
    tags = ("sandbox",)
    include_in_schema = False
    dependencies = {"payments": PAYMENTS}

    @get(operation_id="sandboxWallet", media_type="text/html")
    async def page(self, out_trade_no: FromPath[str], payments: NamedDependency[Payments]) -> str:
        """The simulated wallet: the amount and a Pay button."""
        _sandbox(payments)
        return await wallet.wallet_page(out_trade_no)

    @post(operation_id="sandboxWalletPay", media_type="text/html", status_code=HTTP_200_OK)
    async def pay(
        self,
        out_trade_no: FromPath[str],
        data: URLEncodedBody[WalletForm],
        payments: NamedDependency[Payments],
    ) -> Response[str]:
        """Pay; the sandbox then notifies the server like a gateway does."""
        paid = await wallet.pay(_sandbox(payments), out_trade_no, data.payer)
        if paid is None:  # paid, closed or expired before: the page shows it as it is
            return Response(await wallet.wallet_page(out_trade_no), media_type="text/html")
        return Response(wallet.render_wallet(paid), media_type="text/html")
