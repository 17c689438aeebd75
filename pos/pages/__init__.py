"""The shopper's phone pages, the kiosk screen and the staff tablet, rendered from kiosk_ui/."""

from __future__ import annotations

from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from kiosk_ui import STATIC
from pos.pages.rendering import template_config
from pos.pages.routes import KioskPages, ShopperPages
from pos.pages.staff_routes import StaffPages
from pos.pages.stock_routes import StockPages

__all__ = ["page_handlers", "template_config"]

STATIC_MAX_AGE_S = 3600


def page_handlers() -> list[ControllerRouterHandler]:
    """The page controllers and the /static files router."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        cache_control=CacheControlHeader(max_age=STATIC_MAX_AGE_S, public=True),
        include_in_schema=False,
        name="static",
    )
    return [ShopperPages, KioskPages, StaffPages, StockPages, static]
