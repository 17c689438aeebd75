"""Point every table, and Piccolo's migration runner, at one engine."""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.table import Table

import pos.piccolo_conf as conf

__all__ = ["bind", "current_engine"]


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
