"""Bulk statements on the open write transaction's own connection, one class per engine.

Piccolo's insert() costs ~35 us a row, too slow for the 136,130-row national list, so the
import talks to the driver underneath: products go into a staging table (sqlite3's executemany,
or PostgreSQL's binary COPY) and from there into the catalog with one INSERT ... SELECT that
also turns county codes and credit codes into ids. Optional columns a row left out are first
copied from the stored product into the staged row, so the upsert keeps them. SQL given to these
classes uses `?`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from piccolo.engine.sqlite import SQLiteEngine

from pos.catalog.columns import ProductRecord
from pos.db import current_engine

__all__ = ["PRODUCT_COLUMNS", "Bulk", "PriceChangedBy", "bulk"]

# A staged row is a ProductRecord: the product's columns, then the flags of the columns it
# left out, whose stored values it keeps.
_LEFT_OUT = {"gtin": "gtin_left_out", "shelf_life_days": "shelf_life_days_left_out"}
PRODUCT_COLUMNS = tuple(f for f in ProductRecord._fields if f not in _LEFT_OUT.values())
SQLITE_CACHE_KIB = 64 * 1024
Row = Sequence[Any]

# Products are staged with the codes the file has; the upsert joins them to county and
# supplier ids in the database. The statements are built from column names only, never input.
_REFERENCES = {
    "certifying_county": ("county", "code", 6),
    "origin_county": ("county", "code", 6),
    "supplier": ("supplier", "credit_code", 18),
}
_STAGED = ", ".join(
    f'CAST(NULL AS VARCHAR({_REFERENCES[column][2]})) AS "{column}"'
    if column in _REFERENCES
    else f'"{column}"'
    for column in PRODUCT_COLUMNS
) + "".join(f', CAST(NULL AS BOOLEAN) AS "{flag}"' for flag in _LEFT_OUT.values())
_RESOLVED = ", ".join(
    f'"{column}".id' if column in _REFERENCES else f'staged."{column}"'
    for column in PRODUCT_COLUMNS
)
_JOINS = " ".join(
    f'JOIN {table} AS "{column}" ON "{column}".{key} = staged."{column}"'
    for column, (table, key, _) in _REFERENCES.items()
)
_COLUMNS = ", ".join(f'"{column}"' for column in (*PRODUCT_COLUMNS, "revision", "updated_at"))
_SET_ALL = ", ".join(
    f'"{column}" = excluded."{column}"' for column in (*PRODUCT_COLUMNS, "revision", "updated_at")
)
_OLD = ", ".join(f'product."{column}"' for column in PRODUCT_COLUMNS)
_NEW = ", ".join(f'excluded."{column}"' for column in PRODUCT_COLUMNS)
# Rows equal to the file are left alone, so they keep their revision and devices skip them.
_UPSERT = (
    f"INSERT INTO product ({_COLUMNS}) SELECT {_RESOLVED}, {{}} "  # noqa: S608
    f"FROM catalog_import AS staged {_JOINS} WHERE true "
    f'ON CONFLICT ("certificate_no") DO UPDATE SET {_SET_ALL} WHERE ({_OLD}) {{}} ({_NEW})'
)
_STAGE = f"CREATE TEMP TABLE catalog_import AS SELECT {_STAGED} FROM product WHERE false"  # noqa: S608
_SQLITE_STAGE_ROW = (
    f"INSERT INTO catalog_import VALUES ({', '.join('?' * len(ProductRecord._fields))})"  # noqa: S608
)
_KEEP_STORED = (
    "UPDATE catalog_import SET "  # noqa: S608
    + ", ".join(
        f'"{column}" = CASE WHEN "{flag}" THEN product."{column}"'
        f' ELSE catalog_import."{column}" END'
        for column, flag in _LEFT_OUT.items()
    )
    + " FROM product WHERE product.certificate_no = catalog_import.certificate_no AND ("
    + " OR ".join(f'"{flag}"' for flag in _LEFT_OUT.values())
    + ")"
)
_SQLITE_UPSERT = _UPSERT.format("?, ?", "IS NOT")
_POSTGRES_UPSERT = (
    f"WITH changed AS ({_UPSERT.format('$1, $2', 'IS DISTINCT FROM')} "  # noqa: S608
    "RETURNING xmax = 0 AS inserted) "
    "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM changed"
)


# Before the upsert, the catalog prices the file changes, kept with who and why.
_PRICE_CHANGES = (
    "INSERT INTO product_price_change"
    " (product, old_price_fen, new_price_fen, changed_at, changed_by, reason)"
    " SELECT product.id, product.price_fen, staged.price_fen, ?, ?, ?"
    " FROM catalog_import AS staged JOIN product ON product.certificate_no = staged.certificate_no"
    " WHERE product.price_fen <> staged.price_fen"
)


def _keeps_stored(rows: Sequence[ProductRecord]) -> bool:
    """Whether a row left out an optional column: checked here to spare full files a join."""
    return any(row.gtin_left_out or row.shelf_life_days_left_out for row in rows)


class PriceChangedBy(NamedTuple):
    """Who changes prices by an import, and why: kept with each price it changes."""

    who: str
    why: str


def _upsert(table: str, key: str, columns: Sequence[str], source: str) -> str:
    """INSERT ... ON CONFLICT DO UPDATE from `source`, for names that are constants."""
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns)
    return (
        f"INSERT INTO {table} ({', '.join((key, *columns))}) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


class Bulk(ABC):
    """Raw statements inside the current write transaction."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """The rows a query returns, as tuples."""

    @abstractmethod
    async def upsert_by_key(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Insert rows of (key, *columns) into `table`, updating those whose key exists."""

    @abstractmethod
    async def upsert_products(
        self, rows: Sequence[ProductRecord], revision: int, now: datetime, by: PriceChangedBy
    ) -> tuple[int, int]:
        """Insert or update products (with codes) by certificate number, keeping the stored
        values of columns a row left out and recording the price changes; returns (inserted,
        updated)."""


class _SQLite(Bulk):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with self.connection.execute(sql, args) as cursor:
            return [tuple(row.values()) for row in await cursor.fetchall()]

    async def run(self, sql: str, *args: Any) -> int:
        async with self.connection.execute(sql, args) as cursor:
            return int(cursor.rowcount)

    async def upsert_by_key(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        marks = ", ".join("?" * (len(columns) + 1))
        await self.connection.executemany(_upsert(table, key, columns, f"VALUES ({marks})"), rows)

    async def upsert_products(
        self, rows: Sequence[ProductRecord], revision: int, now: datetime, by: PriceChangedBy
    ) -> tuple[int, int]:
        # One INSERT ... SELECT from a staging table costs half of an upsert per row.
        await self.run(_STAGE)
        await self.connection.executemany(_SQLITE_STAGE_ROW, rows)
        if _keeps_stored(rows):
            await self.run(_KEEP_STORED)
        await self.run(_PRICE_CHANGES, now, *by)
        before = (await self.fetch("SELECT count(*) FROM product"))[0][0]
        changed = await self.run(_SQLITE_UPSERT, revision, now)
        inserted = (await self.fetch("SELECT count(*) FROM product"))[0][0] - before
        await self.run("DROP TABLE catalog_import")
        return inserted, changed - inserted


class _Postgres(Bulk):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @staticmethod
    def _numbered(sql: str) -> str:
        count = iter(range(1, sql.count("?") + 1))
        return re.sub(r"\?", lambda _: f"${next(count)}", sql)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.connection.fetch(self._numbered(sql), *args)]

    async def upsert_by_key(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        listed = ", ".join((key, *columns))
        staged = f"{table}_import"
        await self.connection.execute(
            f"CREATE TEMP TABLE {staged} AS SELECT {listed} FROM {table} WHERE false"  # noqa: S608
        )
        await self.connection.copy_records_to_table(staged, records=rows, columns=[key, *columns])
        await self.connection.execute(
            _upsert(table, key, columns, f"SELECT {listed} FROM {staged}")  # noqa: S608
        )
        await self.connection.execute(f"DROP TABLE {staged}")

    async def upsert_products(
        self, rows: Sequence[ProductRecord], revision: int, now: datetime, by: PriceChangedBy
    ) -> tuple[int, int]:
        await self.connection.execute(_STAGE)
        await self.connection.copy_records_to_table(
            "catalog_import", records=rows, columns=ProductRecord._fields
        )
        if _keeps_stored(rows):
            await self.connection.execute(_KEEP_STORED)
        await self.connection.execute(self._numbered(_PRICE_CHANGES), now, *by)
        counts = await self.connection.fetchrow(_POSTGRES_UPSERT, revision, now)
        await self.connection.execute("DROP TABLE catalog_import")
        return int(counts[0]), int(counts[1])


async def bulk() -> Bulk:
    """Bulk statements on the connection of the open write transaction."""
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk statements need an open write_transaction()")
    if not isinstance(engine, SQLiteEngine):
        return _Postgres(transaction.connection)
    db = _SQLite(transaction.connection)
    # The transaction's connection closes with it, so these last for this import only. With
    # the default 2 MB page cache, pages spill to the WAL mid-import: twice the time.
    await db.run(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    await db.run("PRAGMA temp_store = MEMORY")
    return db
