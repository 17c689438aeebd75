"""Piccolo's configuration: the app registry, and the engine `pos.db.bind` installs.

Piccolo's migration runner looks its engine up here; `DB` starts as the configured database
so that `piccolo migrations new ... --auto` works from the command line. It is made on first
use, not on import: every `pos` command imports this module, and a wrong setting must reach
the command's own message, not stop the import with a traceback.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from pos.db.engine import create_engine
from pos.settings import load_settings

APPS = [
    "pos.catalog.piccolo_app",
    "pos.stores.piccolo_app",
    "pos.staff.piccolo_app",
    "pos.inventory.piccolo_app",
    "pos.events.piccolo_app",
    "pos.orders.piccolo_app",
    "pos.payments.piccolo_app",
    "pos.printing.piccolo_app",
    "pos.platform.piccolo_app",
    "pos.analytics.piccolo_app",
]

APP_REGISTRY = AppRegistry(apps=APPS)
DB: Engine[Any]


def __getattr__(name: str) -> Engine[Any]:
    if name != "DB":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    engine = globals()["DB"] = create_engine(load_settings().database_url)
    return engine
