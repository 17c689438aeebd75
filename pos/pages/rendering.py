"""Rendering a page: the Jinja environment, the request's language, and the headers every page has.

Pages are served with a strict Content-Security-Policy: scripts and styles only from /static,
no inline handlers, forms posting only to this server; and a referrer only for this server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from kiosk_ui import TEMPLATES
from pos.money import format_yuan
from pos.pages.i18n import LANGUAGE_COOKIE, Translator, negotiate

__all__ = ["PAGE_HEADERS", "qr_svg", "render", "request_translator", "template_config"]

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    # Not "no-referrer": under it a browser sends a form's `Origin` as "null", which tells the
    # staff pages' origin check nothing (pos.same_origin). No other site gets a referrer.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def _yuan(fen: int) -> str:
    return f"¥{format_yuan(fen)}"


def _kg(grams: int) -> str:
    return f"{grams / 1000:.3f}".rstrip("0").rstrip(".")


def _local(moment: datetime, zone: str, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(pattern)


def qr_svg(text: str) -> Markup:
    """`text` as an inline SVG QR code."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg: str = image.to_string(encoding="unicode")
    return Markup(svg[svg.index("<svg") :])  # noqa: S704 (our own SVG; the URL is not markup)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja over kiosk_ui/templates: autoescaped, and an unknown variable is an error."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `yuan` shows an amount (¥12.50); `yuan_value` fills a form field with one (12.50).
    environment.filters.update(
        yuan=_yuan, yuan_value=format_yuan, kg=_kg, local=_local, qr_svg=qr_svg
    )
    environment.globals["browser_language"] = _browser_language
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def request_translator(request: Request[Any, Any, Any]) -> Translator:
    """The translator for the language this request asks for."""
    return Translator(
        negotiate(
            request.query_params.get("lang"),
            request.cookies.get(LANGUAGE_COOKIE),
            request.headers.get("accept-language", ""),
        )
    )


def _browser_language(request: Request[Any, Any, Any]) -> str:
    """The language the device's browser asks for, whatever a user chose on it.

    A shared kiosk starts over in it: the next shopper must not find the last one's choice.
    """
    return negotiate(None, None, request.headers.get("accept-language", ""))


def _switch_url(request: Request[Any, Any, Any], language: str) -> str:
    params: list[tuple[str, str]] = [
        (key, value) for key, value in request.query_params.multi_items() if key != "lang"
    ]
    return f"{request.url.path}?{urlencode([*params, ('lang', language)])}"


def render(
    request: Request[Any, Any, Any],
    name: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    cookies: Sequence[Cookie] = (),
    switch: bool = True,
) -> Template:
    """Render template `name` in the request's language, with the page headers.

    `switch=False` leaves out the language switch, for pages that answer a form post.
    """
    t = request_translator(request)
    kept: list[Cookie] = list(cookies)
    if request.query_params.get("lang") == t.language:
        kept.append(
            Cookie(
                key=LANGUAGE_COOKIE,
                value=t.language,
                max_age=LANGUAGE_COOKIE_SECONDS,
                path="/",
                samesite="lax",
            )
        )
    return Template(
        template_name=name,
        context={
            **context,
            "t": t,
            "switch_url": _switch_url(request, t.other) if switch else None,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
        cookies=kept,
        media_type="text/html",
    )
