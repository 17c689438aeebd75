"""Piccolo's configuration: the app registry, and the engine `pos.db.bind` installs.

Piccolo's migration runner looks its engine up here; `DB` starts as the configured database
so that `piccolo migrations new ... --auto` works from the command line.
"""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry

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
DB = create_engine(load_settings().database_url)
