"""Load the demo: the certified products of DESIGN.md, two Xiamen stores and their staff.

Everything is upserted by natural keys, so loading twice changes nothing. It is all or nothing:
everything is written in one transaction (the staff and stock files checked before it starts),
so a broken file changes nothing and the error names it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from pos.catalog import service as catalog
from pos.catalog.schemas import ProgressCallback
from pos.catalog.service import import_catalog_file
from pos.db import write_transaction
from pos.errors import InvalidInput, PosError
from pos.inventory import service as inventory
from pos.layouts import apply_layouts_file
from pos.staff import service as staff
from pos.staff.actors import RoleName
from pos.stores import service as stores

__all__ = ["DEMO_FILES", "DemoSummary", "load_demo"]

DEMO_FILES = ("catalog.jsonl", "stores.json", "staff.json", "stock.json")
_CHANGED_BY = "pos demo"

T = TypeVar("T")


class _Role(BaseModel):
    role: RoleName
    store: str | None = Field(description="a store code; null: head office")


class _User(BaseModel):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    display_name: str = ""
    roles: list[_Role] = Field(min_length=1)


class _Shelved(BaseModel):
    certificate_no: str = Field(min_length=1)
    on_hand: int = Field(ge=0)


_STAFF = TypeAdapter(list[_User])
_STOCK = TypeAdapter(dict[str, list[_Shelved]])  # shelves by store code


@dataclass(frozen=True)
class DemoSummary:
    products: int
    stores: int
    counter_ids: dict[str, int]
    credentials: dict[str, str]


async def load_demo(directory: Path, *, progress: ProgressCallback | None = None) -> DemoSummary:
    """Import the catalog, apply the store layouts, create the staff, stock the shelves."""
    if missing := [name for name in DEMO_FILES if not (directory / name).is_file()]:
        raise InvalidInput(f"{directory} is not a demo directory: it has no {', '.join(missing)}")
    users = await _read(directory / "staff.json", _STAFF)
    shelves = await _read(directory / "stock.json", _STOCK)
    async with write_transaction():  # each step's own transaction joins this one
        with _blaming("catalog.jsonl"):
            report = await import_catalog_file(
                directory / "catalog.jsonl", changed_by=_CHANGED_BY, progress=progress
            )
        with _blaming("stores.json"):  # the file is checked whole before any store is written
            layouts = await apply_layouts_file(directory / "stores.json", changed_by=_CHANGED_BY)
        store_ids = [layout.store_id for layout in layouts]
        with _blaming("staff.json"):
            await _create_staff(users)
        with _blaming("stock.json"):
            await _stock_shelves(shelves)
        counter_ids = await stores.counter_ids_of(store_ids)
    return DemoSummary(
        products=report.rows,
        stores=len(store_ids),
        counter_ids=counter_ids,
        credentials={user.username: user.password for user in users},
    )


async def _read(path: Path, shape: TypeAdapter[T]) -> T:
    try:
        return shape.validate_json(await anyio.Path(path).read_bytes())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'the file'}: {error['msg']}"
            for error in exc.errors()[:10]
        )
        raise InvalidInput(f"{path.name}: {problems}", code="demo_file") from None


@contextmanager
def _blaming(file_name: str) -> Iterator[None]:
    """Name the demo file whose content a service refused."""
    try:
        yield
    except PosError as exc:
        raise type(exc)(f"{file_name}: {exc.detail}", code=exc.code, **exc.extra) from None


async def _create_staff(users: list[_User]) -> None:
    codes = [role.store for user in users for role in user.roles if role.store]
    ids_by_code = await stores.store_ids_by_code(codes)
    _require_known("store codes", codes, ids_by_code)
    for user in users:
        roles = [(r.role, ids_by_code[r.store] if r.store else None) for r in user.roles]
        await staff.ensure_user(
            user.username, user.password, display_name=user.display_name, roles=roles
        )


async def _stock_shelves(shelves: dict[str, list[_Shelved]]) -> None:
    """Put the demo stock on shelves that have none yet (the layout taught the scales)."""
    store_ids = await stores.store_ids_by_code(list(shelves))
    certificates = [item.certificate_no for shelf in shelves.values() for item in shelf]
    products = await catalog.product_ids_by_certificate(certificates)
    _require_known("store codes", shelves, store_ids)
    _require_known("certificates", certificates, products)
    for code, shelf in shelves.items():
        for item in shelf:
            product_id = products[item.certificate_no]
            level = await inventory.get_level(store_ids[code], product_id)
            if level.on_hand == 0 and level.held == 0:
                await inventory.set_level(store_ids[code], product_id, item.on_hand)


def _require_known(what: str, names: Iterable[str], known: Container[str]) -> None:
    if unknown := sorted({name for name in names if name not in known}):
        raise InvalidInput(f"unknown {what}: {', '.join(unknown)}")
