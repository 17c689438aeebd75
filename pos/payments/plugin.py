"""Wiring: the payments context built from settings, its routes, and its outbox handlers.

`create_app` adds `PaymentsPlugin(settings)`; a `pos worker` process runs
`with payment_handlers(lambda: payments, lambda: sender): ...`. Handlers look the context and
the sender up on every event, so a test may swap `app.state["payments"]` (a controllable clock)
and `app.state["payment_sender"]` (an in-loop sender).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from pos.events.outbox import Event, Handler, patient, register, unregister
from pos.payments.alipay import AlipayConfig, AlipayProvider
from pos.payments.clock import Clock, utc_now
from pos.payments.provider import PaymentProvider
from pos.payments.refunds import complete_refund
from pos.payments.routes import (
    FlaggedPaymentController,
    NotifyController,
    OrderPaymentController,
    RefundController,
    SandboxWalletController,
)
from pos.payments.sandbox import SandboxProvider
from pos.payments.settle import POLL_EVENT, REFUND_EVENT, Payments, poll
from pos.payments.wallet import NOTIFY_EVENT, HttpSender, Sender, deliver_notification
from pos.payments.wechat import WeChatConfig, WeChatPayProvider
from pos.payments.wechat_oauth import WeChatOAuth
from pos.settings import Settings

__all__ = ["PaymentsPlugin", "build_payments", "payment_handlers"]


def build_payments(settings: Settings, *, clock: Clock = utc_now) -> Payments:
    """The payments context for the configured provider; `async with` its provider to use it."""
    provider: PaymentProvider
    if settings.payment_provider == "wechat":
        provider = WeChatPayProvider(wechat_config(settings))
    elif settings.payment_provider == "alipay":
        provider = AlipayProvider(alipay_config(settings))
    else:
        provider = SandboxProvider(
            signing_key=settings.sandbox_signing_key.get_secret_value().encode(),
            public_url=settings.public_url,
            clock=clock,
        )
    return Payments(provider, settings.payer_salt.get_secret_value().encode(), clock)


def wechat_config(settings: Settings) -> WeChatConfig:
    """The WeChat Pay account of the settings (which checked that every part is given)."""
    assert settings.wechat_private_key_file
    assert settings.wechat_public_key_file
    return WeChatConfig(
        private_key=settings.wechat_private_key_file.read_text(),
        public_key=settings.wechat_public_key_file.read_text(),
        mchid=settings.wechat_mchid,
        appid=settings.wechat_appid,
        cert_serial_no=settings.wechat_cert_serial_no,
        apiv3_key=settings.wechat_apiv3_key.get_secret_value(),
        public_key_id=settings.wechat_public_key_id,
        notify_url=_notify_url(settings, "wechat"),
        gateway=settings.wechat_gateway,
        oauth=_wechat_oauth(settings),
    )


def _wechat_oauth(settings: Settings) -> WeChatOAuth | None:
    secret = settings.wechat_appsecret.get_secret_value()
    if not secret:
        return None
    return WeChatOAuth(
        settings.wechat_appid, secret, settings.wechat_oauth_url, settings.wechat_openid_url
    )


def alipay_config(settings: Settings) -> AlipayConfig:
    """The Alipay app of the settings (which checked that every part is given)."""
    assert settings.alipay_private_key_file
    assert settings.alipay_public_key_file
    return AlipayConfig(
        app_private_key=settings.alipay_private_key_file.read_text(),
        alipay_public_key=settings.alipay_public_key_file.read_text(),
        appid=settings.alipay_appid,
        notify_url=_notify_url(settings, "alipay"),
        gateway=settings.alipay_gateway,
        seller_id=settings.alipay_seller_id,
    )


def _notify_url(settings: Settings, provider: str) -> str:
    return f"{settings.public_url.rstrip('/')}/api/payments/notify/{provider}"


@contextmanager
def payment_handlers(
    current: Callable[[], Payments], sender: Callable[[], Sender]
) -> Iterator[None]:
    """Register the payment outbox handlers while the block runs."""

    async def on_poll(event: Event) -> None:
        await poll(current(), int(event.payload["payment_id"]), int(event.payload["attempt"]))

    async def on_refund(event: Event) -> None:
        attempt = int(event.payload.get("attempt", 0))
        await complete_refund(current(), int(event.payload["refund_id"]), attempt)

    async def on_sandbox_notify(event: Event) -> None:
        provider = current().provider
        if isinstance(provider, SandboxProvider):
            await deliver_notification(provider, sender(), str(event.payload["out_trade_no"]))

    handlers: dict[str, Handler] = {
        POLL_EVENT: on_poll,
        REFUND_EVENT: on_refund,
        NOTIFY_EVENT: on_sandbox_notify,
    }
    for kind, fn in handlers.items():
        register(kind, fn)
    # A query or refund that fails while the provider is away waits it out, not for staff.
    patient(POLL_EVENT, REFUND_EVENT)
    try:
        yield
    finally:
        for kind, fn in handlers.items():
            unregister(kind, fn)


class PaymentsPlugin(InitPluginProtocol):
    """Adds the payments routes, the `payments` state and the outbox handlers to an app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Install routes, state and the handlers' lifespan."""
        app_config.route_handlers.extend(
            [OrderPaymentController, NotifyController, RefundController, FlaggedPaymentController]
        )
        if self.settings.payment_provider == "sandbox":
            app_config.route_handlers.append(SandboxWalletController)
        app_config.state["payments"] = build_payments(self.settings)
        app_config.lifespan.append(_handlers_lifespan)
        return app_config


@asynccontextmanager
async def _handlers_lifespan(app: Litestar) -> AsyncIterator[None]:
    async with app.state["payments"].provider, HttpSender() as sender:
        app.state["payment_sender"] = sender
        with payment_handlers(lambda: app.state["payments"], lambda: app.state["payment_sender"]):
            yield
