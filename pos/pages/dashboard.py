"""The managers' figures on the tablet: sales by day and by county, first-time and repeat buyers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pos.analytics import service as analytics
from pos.analytics.schemas import BuyersOut, SalesOut
from pos.errors import InvalidInput
from pos.pages.forms import form_day
from pos.staff.actors import StaffActor
from pos.stores import service as stores

__all__ = ["DASHBOARD_DAYS", "Dashboard", "figures"]

DASHBOARD_DAYS = 30


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Sales by day and by county, and first-time against returning buyers.

    `mistake` is the code of what was wrong with the period the form sent (no date, reversed,
    too long): the page then shows the default period and says so.
    """

    date_from: date
    date_to: date
    by_day: SalesOut
    by_county: SalesOut
    buyers: BuyersOut
    mistake: str | None = None

    @property
    def query(self) -> str:
        """The period as a query string, for the chart images."""
        return f"date_from={self.date_from}&date_to={self.date_to}"


async def figures(actor: StaffActor, date_from: str, date_to: str) -> Dashboard:
    """The figures of every store the manager manages over the period the form names.

    An empty field takes the default: 30 days to today where the stores are.
    """
    try:
        return await _over(actor, form_day(date_from), form_day(date_to))
    except InvalidInput as exc:
        return replace(await _over(actor, None, None), mistake=exc.code)


async def _over(actor: StaffActor, date_from: date | None, date_to: date | None) -> Dashboard:
    end = date_to or await _stores_today(actor)
    start = date_from or end - timedelta(days=min(DASHBOARD_DAYS - 1, (end - date.min).days))
    scope = await analytics.scope_for(actor, None, start, end)
    by_day, by_county, buyers = await asyncio.gather(
        analytics.sales(scope, "day"), analytics.sales(scope, "county"), analytics.buyers(scope)
    )
    return Dashboard(start, end, by_day, by_county, buyers)


async def _stores_today(actor: StaffActor) -> date:
    """Today in the manager's stores (the latest, should their time zones differ)."""
    zones = await stores.time_zones(await analytics.stores_for(actor, None))
    return max(datetime.now(ZoneInfo(zone)).date() for zone in zones)
