"""create_app(settings): plugins, routes, lifespan. Nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from redis.asyncio import Redis

from pos.analytics.routes import (
    AnalyticsController,
    AnalyticsExportController,
    OrderRatingController,
    ProductRatingController,
)
from pos.catalog.routes import CatalogImportController
from pos.db import bind, close_engine, create_engine, open_engine
from pos.health import health
from pos.inventory.routes import StockController, TabletController
from pos.inventory.supplier_routes import SupplierFeedController, SupplierInventoryController
from pos.live import LiveChannels
from pos.live_routes import order_events
from pos.logs import RequestIdMiddleware, configure_logging
from pos.nul_guard import refuse_nul
from pos.orders import budget as order_budget
from pos.orders.routes import CounterOrderController, KioskOrderController, OrderController
from pos.pages import page_handlers, template_config
from pos.payments.plugin import PaymentsPlugin
from pos.platform.routes import PlatformController
from pos.printing.routes import PrintingController
from pos.problems import exception_handlers
from pos.same_origin import same_origin_changes
from pos.settings import Settings
from pos.staff import login_limit
from pos.staff.routes import DeviceTokenController, SessionController
from pos.stores.routes import CounterCatalogController, PriceChangeController
from pos.worker import embedded_worker

__all__ = ["create_app"]

# Each checkout step answers a few hundred bytes to 2 KB (or a status stream): gzip would cost
# every request more CPU than it saves on the wire. Catalogs and pages stay compressed.
_SMALL_CHECKOUT_ANSWERS = [
    r"^/api/orders/",
    r"^/api/counters/\d+/orders",
    r"^/api/kiosk/orders",
    r"^/api/payments/",
    r"^/sandbox/",
]


def create_app(settings: Settings) -> Litestar:
    """The whole service, configured by `settings` and nothing else."""
    configure_logging(settings)
    engine = create_engine(settings.database_url)
    bind(engine)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    # With Redis, the sign-in and order budgets are shared by every app server; else in-process.
    login_tries = login_limit.create_login_limit(redis, prefix=settings.redis_prefix)
    order_tries = order_budget.create_order_budget(redis, prefix=settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await open_engine(engine)
        try:
            async with embedded_worker(settings.run_worker, settings):
                yield
        finally:
            await close_engine(engine)
            if redis is not None:
                await redis.aclose()

    return Litestar(
        route_handlers=[
            health,
            SessionController,
            DeviceTokenController,
            CatalogImportController,
            CounterCatalogController,
            PriceChangeController,
            CounterOrderController,
            KioskOrderController,
            OrderController,
            order_events,
            PrintingController,
            PlatformController,
            StockController,
            TabletController,
            SupplierInventoryController,
            SupplierFeedController,
            AnalyticsController,
            AnalyticsExportController,
            OrderRatingController,
            ProductRatingController,
            *page_handlers(),
        ],
        template_config=template_config(),
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False)},
        state=State(
            {
                "settings": settings,
                "redis": redis,
                login_limit.STATE_KEY: login_tries,
                order_budget.STATE_KEY: order_tries,
            }
        ),
        lifespan=[lifespan],
        plugins=[
            LiveChannels.create(redis, prefix=settings.redis_prefix),
            PaymentsPlugin(settings),
        ],
        middleware=[DefineMiddleware(RequestIdMiddleware)],
        guards=[same_origin_changes],
        exception_handlers=exception_handlers,
        before_request=refuse_nul,
        before_send=[login_limit.send_budget_headers],
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=512, exclude=_SMALL_CHECKOUT_ANSWERS
        ),
        openapi_config=OpenAPIConfig(
            title="Poverty-alleviation counter POS",
            version="0.1.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        logging_config=None,
    )
