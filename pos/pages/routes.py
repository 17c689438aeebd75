"""The pages' routes: the shopper's phone (/c, /o, /r), the kiosk (/kiosk), staff (/staff)."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from pydantic import ValidationError

from pos.db import OptionalRowId, RowId
from pos.errors import NotFound, PosError
from pos.orders.budget import spend_order_try
from pos.pages import kiosk, shopper
from pos.pages.errors import PAGE_ERRORS, fragment_error, page_error
from pos.pages.forms import checked_key, order_key, read_form
from pos.pages.rendering import render
from pos.payments import service as payments_service
from pos.payments.provider import PhoneBrowser
from pos.payments.wechat import WeChatPayProvider
from pos.payments.wechat_oauth import WeChatOAuth
from pos.settings import Settings
from pos.staff.actors import DeviceActor

__all__ = ["KioskPages", "ShopperPages"]

AnyRequest = Request[Any, Any, Any]


def _see_other(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


def _in_wechat(request: AnyRequest) -> bool:
    """Whether the page is open in WeChat's own browser, which opens no H5 or Alipay page."""
    return "MicroMessenger" in request.headers.get("user-agent", "")


def _blocked_wallet(request: AnyRequest) -> str | None:
    """The provider, when this in-app browser cannot pay by it (`shopper.wallet_blocked`)."""
    provider: str = request.app.state["payments"].provider.name
    user_agent = request.headers.get("user-agent", "")
    return provider if shopper.wallet_blocked(provider, user_agent) else None


def _wechat_oauth(request: AnyRequest) -> WeChatOAuth | None:
    """WeChat's sign-in, when the provider is WeChat Pay with JSAPI set up."""
    provider = request.app.state["payments"].provider
    return provider.oauth if isinstance(provider, WeChatPayProvider) else None


def _phone_browser(
    request: AnyRequest, settings: Settings, order_id: int, token: str, *, wechat_openid: str = ""
) -> PhoneBrowser:
    """The phone's browser, which the provider's page sends back to the order."""
    client_ip = request.client.host if request.client else ""
    return payments_service.phone_browser(
        settings.public_url, order_id, token, client_ip, wechat_openid=wechat_openid
    )


async def _paying(
    request: AnyRequest,
    settings: Settings,
    order_id: int,
    token: str,
    key: str,
    browser: PhoneBrowser | None,
) -> shopper.OrderPage:
    """The order page with a payment started, by the form's `key` once."""
    payments = request.app.state["payments"]
    secret = _secret(settings)
    return await shopper.start_phone_payment(
        payments, order_id, token, key, secret=secret, browser=browser
    )


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


class ShopperPages(Controller):
    """The pages a shopper's phone opens from a counter's QR code."""

    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/c/{counter_id:int}", operation_id="pageCounter")
    async def counter(
        self,
        request: AnyRequest,
        counter_id: FromPath[RowId],
        settings: NamedDependency[Settings],
        t: FromQuery[str] = "",
        q: FromQuery[str | None] = None,
        cursor: FromQuery[OptionalRowId] = None,
    ) -> Template:
        """The counter's products, a cart and the way to pay."""
        page = await shopper.counter_page(
            counter_id,
            t,
            secret=_secret(settings),
            query=q,
            cursor=cursor,
            page_size=settings.catalog_page_size,
            carried=request.query_params,
        )
        return render(request, "shopper/counter.html", page)

    @post("/c/{counter_id:int}/order", operation_id="pageCounterOrder")
    async def order(
        self, request: AnyRequest, counter_id: FromPath[RowId], settings: NamedDependency[Settings]
    ) -> Template | Redirect:
        """Create the order of the cart, then show it (or the cart again, and why not)."""
        form = await read_form(request)
        ordered = await shopper.order_from_form(
            counter_id,
            form,
            secret=_secret(settings),
            page_size=settings.catalog_page_size,
            spend_try=partial(spend_order_try, request, counter_id),
        )
        if isinstance(ordered, shopper.RefusedCart):
            page, status = ordered.context, ordered.status
            return render(request, "shopper/counter.html", page, status_code=status, switch=False)
        return _see_other(ordered)

    @get("/o/{order_id:int}", operation_id="pageOrder")
    async def order_status(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        token: FromQuery[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The order: pay it and watch its status live."""
        page = await shopper.order_page(order_id, token, secret=_secret(settings))
        context = page.context(blocked_wallet=_blocked_wallet(request))
        return render(request, "shopper/order.html", context)

    @post("/o/{order_id:int}/pay", operation_id="pageOrderPay", status_code=200)
    async def pay(
        self, request: AnyRequest, order_id: FromPath[RowId], settings: NamedDependency[Settings]
    ) -> Template | Redirect:
        """Open a payment and show the link to the provider's page.

        Inside WeChat, with JSAPI set up, WeChat first signs the shopper in (`pay_in_wechat`).
        In a browser that cannot pay by the provider, no payment opens: the page says why.
        """
        form = await read_form(request)
        token, key = form.get("token", ""), form.get("key", "")
        if blocked := _blocked_wallet(request):
            page = await shopper.order_page(order_id, token, secret=_secret(settings))
            context = page.context(blocked_wallet=blocked)
            return render(request, "shopper/order.html", context, switch=False)
        in_wechat, oauth = _in_wechat(request), _wechat_oauth(request)
        if in_wechat and oauth is not None:
            url = await shopper.wechat_sign_in(
                oauth, order_id, token, key, public_url=settings.public_url
            )
            return _see_other(url)
        # Inside WeChat without JSAPI there is no page to send the browser to: a QR code it is.
        browser = None if in_wechat else _phone_browser(request, settings, order_id, token)
        page = await _paying(request, settings, order_id, token, key, browser)
        return render(request, "shopper/order.html", page.context(), switch=False)

    @post("/o/{order_id:int}/cancel", operation_id="pageOrderCancel")
    async def cancel(self, request: AnyRequest, order_id: FromPath[RowId]) -> Redirect:
        """The shopper gives the order up: its goods go back on the shelf at once."""
        token = (await read_form(request)).get("token", "")
        payments = request.app.state["payments"]
        return _see_other(await shopper.cancel_phone_order(payments, order_id, token))

    @get("/o/{order_id:int}/wechat-pay", operation_id="pageOrderPayInWeChat")
    async def pay_in_wechat(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        token: FromQuery[str],
        key: FromQuery[str],
        code: FromQuery[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        """Back from WeChat's sign-in: open a JSAPI payment, which the page hands to WeChat."""
        oauth = _wechat_oauth(request)
        if oauth is None:
            raise NotFound("WeChat JSAPI payment is not set up here", code="wechat_jsapi_off")
        openid = await oauth.openid(code)
        browser = _phone_browser(request, settings, order_id, token, wechat_openid=openid)
        page = await _paying(request, settings, order_id, token, checked_key(key), browser)
        # Its address holds WeChat's one-time code: loaded again (another language), it fails.
        return render(request, "shopper/order.html", page.context(), switch=False)

    @get("/r/{order_id:int}", operation_id="pageReceipt")
    async def receipt(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        token: FromQuery[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The e-receipt: origin, certificate, and a rating form."""
        page = await shopper.receipt_page(order_id, token, secret=_secret(settings))
        return render(request, "shopper/receipt.html", page.context())

    @post("/r/{order_id:int}/ratings", operation_id="pageReceiptRate")
    async def rate(self, request: AnyRequest, order_id: FromPath[RowId]) -> Redirect:
        """Record the shopper's stars and comments."""
        form = await read_form(request)
        return _see_other(await shopper.rate_from_form(order_id, form.get("token", ""), form))


KIOSK_COOKIE_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie


async def provide_kiosk(request: AnyRequest) -> DeviceActor:
    """Dependency: the kiosk whose token the pairing cookie holds."""
    return await kiosk.kiosk_device(request.cookies.get(kiosk.KIOSK_COOKIE))


def _pairing_page(request: AnyRequest, exc: Exception) -> Response[Any]:
    if not isinstance(exc, PosError) or exc.code not in kiosk.UNPAIRED_CODES:
        return page_error(request, exc)
    return render(request, "kiosk/pair.html", {"code": exc.code}, status_code=exc.status)


def _kiosk_cookie(token: str, settings: Settings) -> Cookie:
    return Cookie(
        key=kiosk.KIOSK_COOKIE,
        value=token,
        max_age=KIOSK_COOKIE_SECONDS,
        path="/kiosk",
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https://"),
    )


class KioskPages(Controller):
    """The self-checkout screen; paired once, then authenticated by its HttpOnly cookie."""

    path = "/kiosk"
    include_in_schema = False
    exception_handlers = {
        **PAGE_ERRORS,
        PosError: _pairing_page,
    }
    dependencies = {"kiosk_actor": Provide(provide_kiosk)}

    @get("/pair", operation_id="pageKioskPairForm")
    async def pair_form(
        self,
        request: AnyRequest,
        settings: NamedDependency[Settings],
        token: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """The pairing form; `?token=` pairs at once and drops the token from the address."""
        if token is None:
            return render(request, "kiosk/pair.html", {"code": None})
        return await self._pair(token, settings)

    @post("/pair", operation_id="pageKioskPair")
    async def pair(self, request: AnyRequest, settings: NamedDependency[Settings]) -> Redirect:
        """Keep the device token typed or scanned into the form in an HttpOnly cookie."""
        return await self._pair((await read_form(request)).get("token", ""), settings)

    async def _pair(self, token: str, settings: Settings) -> Redirect:
        await kiosk.kiosk_device(token.strip())
        redirect = _see_other("/kiosk")
        redirect.cookies.append(_kiosk_cookie(token.strip(), settings))
        return redirect

    @get(operation_id="pageKiosk")
    async def start(
        self, request: AnyRequest, kiosk_actor: NamedDependency[DeviceActor]
    ) -> Template:
        """The start screen: scan the first item."""
        place = await kiosk.kiosk_place(kiosk_actor)
        return render(
            request,
            "kiosk/index.html",
            {**place, "cart": kiosk.CartView(), "key": uuid.uuid4().hex},
        )

    @post("/cart", operation_id="pageKioskCart", status_code=200)
    async def cart(
        self, request: AnyRequest, kiosk_actor: NamedDependency[DeviceActor]
    ) -> Template:
        """A scan or a cart button; the script asks for the cart fragment only."""
        form = await read_form(request)
        cart = await kiosk.kiosk_cart(
            kiosk_actor, form.get("lines", "[]"), form.get("code", ""), form.get("op", "")
        )
        context = {"cart": cart, "key": form.get("key") or uuid.uuid4().hex}
        if request.headers.get("x-fragment") == "cart":
            return render(request, "kiosk/_cart.html", context, switch=False)
        place = await kiosk.kiosk_place(kiosk_actor)
        return render(request, "kiosk/index.html", {**place, **context}, switch=False)

    @post("/checkout", operation_id="pageKioskCheckout", status_code=200)
    async def checkout(
        self,
        request: AnyRequest,
        kiosk_actor: NamedDependency[DeviceActor],
        settings: NamedDependency[Settings],
    ) -> Template:
        """Order the cart; show the QR code and the payment-code field (or the cart, and why)."""
        form = await read_form(request)
        view = await kiosk.kiosk_checkout(
            kiosk_actor,
            form.get("lines", "[]"),
            order_key(form),
            secret=_secret(settings),
            payments=request.app.state["payments"],
        )
        if isinstance(view, kiosk.CartView):
            place = await kiosk.kiosk_place(kiosk_actor)
            context = {**place, "cart": view, "key": uuid.uuid4().hex}
            return render(request, "kiosk/index.html", context, switch=False)
        return render(request, "kiosk/pay.html", {"view": view}, switch=False)

    @post("/orders/{order_id:int}/code", operation_id="pageKioskPayCode", status_code=200)
    async def pay_code(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        kiosk_actor: NamedDependency[DeviceActor],
    ) -> Template:
        """Charge the payment code the shopper showed the scanner."""
        form = await read_form(request)
        view = await kiosk.kiosk_pay_code(
            kiosk_actor,
            order_id,
            form.get("token", ""),
            form.get("auth_code", ""),
            payments=request.app.state["payments"],
        )
        return render(request, "kiosk/pay.html", {"view": view}, switch=False)

    @post("/orders/{order_id:int}/cancel", operation_id="pageKioskCancel")
    async def cancel(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        kiosk_actor: NamedDependency[DeviceActor],
    ) -> Redirect:
        """The shopper walks away: close the order, its stock free at once, and start again.

        An order paid meanwhile stays paid: its screen again, with its receipt's printing.
        """
        form = await read_form(request)
        payments = request.app.state["payments"]
        token = form.get("token", "")
        return _see_other(await kiosk.kiosk_cancel(kiosk_actor, order_id, token, payments=payments))

    @get("/orders/{order_id:int}", operation_id="pageKioskOrder")
    async def order(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        token: FromQuery[str],
        kiosk_actor: NamedDependency[DeviceActor],
    ) -> Template:
        """The order's screen as it is now."""
        view = await kiosk.kiosk_order(kiosk_actor, order_id, token)
        return render(request, "kiosk/pay.html", {"view": view}, switch=False)

    @get(
        "/orders/{order_id:int}/status",
        operation_id="pageKioskStatus",
        exception_handlers={PosError: fragment_error, ValidationError: fragment_error},
    )
    async def status(
        self,
        request: AnyRequest,
        order_id: FromPath[RowId],
        token: FromQuery[str],
        kiosk_actor: NamedDependency[DeviceActor],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The order's state and its receipt's printing, as a fragment the page polls."""
        view = await kiosk.kiosk_status(
            kiosk_actor, order_id, token, public_url=settings.public_url
        )
        return render(request, "kiosk/_status.html", {"status": view}, switch=False)
