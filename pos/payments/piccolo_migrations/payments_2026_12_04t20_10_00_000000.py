"""Refund checks: staff asking the provider again about a flagged refund, once per key."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import JSON
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Refund(Table, tablename="refund", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


class StaffUser(Table, tablename="staff_user", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-04T20:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "refund checks"


def _params(**own):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **own,
    }


def _foreign_key(references):
    return _params(
        references=references,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
    )


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="payments", description=DESCRIPTION
    )

    manager.add_table(
        class_name="RefundCheck", tablename="refund_check", schema=None, columns=None
    )
    columns = [
        ("refund", ForeignKey, {**_foreign_key(Refund), "index": True}),
        ("key", Varchar, _params(length=160, default="", unique=True)),
        ("checked_by", ForeignKey, _foreign_key(StaffUser)),
        ("checked_at", Timestamptz, _params(default=TimestamptzNow())),
        ("answer", JSON, _params(default="{}")),
    ]
    for name, column_class, params in columns:
        manager.add_column(
            table_class_name="RefundCheck",
            tablename="refund_check",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    return manager
