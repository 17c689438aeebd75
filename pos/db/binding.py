"""Point every table, and Piccolo's migration runner, at one engine; or open one for a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.table import Table

import pos.piccolo_conf as conf
from pos.db.engine import close_engine, create_engine, open_engine

__all__ = ["bind", "current_engine", "opened_database"]


def bind(engine: Engine[Any]) -> None:
    """Make every table and the migration runner use `engine`."""
    conf.DB = engine
    tables: list[type[Table]] = [Migration]
    for app_config in conf.APP_REGISTRY.app_configs.values():
        tables.extend(app_config.table_classes)
    for table in tables:
        table._meta.db = engine


def current_engine() -> Engine[Any]:
    """The engine `bind` installed last."""
    return conf.DB


@asynccontextmanager
async def opened_database(database_url: str) -> AsyncIterator[Engine[Any]]:
    """The engine of `database_url`, bound and open for the block and closed after it."""
    engine = create_engine(database_url)
    bind(engine)
    await open_engine(engine)
    try:
        yield engine
    finally:
        await close_engine(engine)
