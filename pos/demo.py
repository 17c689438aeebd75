"""Load the demo: the certified products of DESIGN.md, two Xiamen stores and their staff.

Everything is upserted by natural keys, so loading twice changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import anyio

from pos.catalog import service as catalog
from pos.catalog.schemas import ProgressCallback
from pos.catalog.service import import_catalog_file
from pos.errors import InvalidInput
from pos.inventory import service as inventory
from pos.orders.products import set_plu
from pos.staff import service as staff
from pos.stores import service as stores
from pos.stores.layout import apply_layouts_file

__all__ = ["DEMO_FILES", "DemoSummary", "load_demo"]

DEMO_FILES = ("catalog.jsonl", "stores.json", "staff.json", "stock.json")


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
    report = await import_catalog_file(
        directory / "catalog.jsonl", changed_by="pos demo", progress=progress
    )
    layouts = await apply_layouts_file(directory / "stores.json", changed_by="pos demo")
    store_ids = [store.store_id for store in layouts]
    users = json.loads(await anyio.Path(directory / "staff.json").read_text(encoding="utf-8"))
    codes = [role["store"] for user in users for role in user["roles"] if role["store"]]
    ids_by_code = await stores.store_ids_by_code(codes)
    for user in users:
        await staff.ensure_user(
            user["username"],
            user["password"],
            display_name=user["display_name"],
            roles=[(role["role"], ids_by_code.get(role["store"])) for role in user["roles"]],
        )
    await _stock_shelves(directory / "stock.json")
    return DemoSummary(
        products=report.rows,
        stores=len(store_ids),
        counter_ids=await stores.counter_ids_of(store_ids),
        credentials={user["username"]: user["password"] for user in users},
    )


async def _stock_shelves(path: Path) -> None:
    """Put the demo stock on shelves that have none yet, and teach the scales their PLUs."""
    shelves = json.loads(await anyio.Path(path).read_text(encoding="utf-8"))
    store_ids = await stores.store_ids_by_code(list(shelves))
    items = [item for code in shelves for item in shelves[code]]
    products = await catalog.product_ids_by_certificate([i["certificate_no"] for i in items])
    for code, shelf in shelves.items():
        for item in shelf:
            product_id = products[item["certificate_no"]]
            level = await inventory.get_level(store_ids[code], product_id)
            if level.on_hand == 0 and level.held == 0:
                await inventory.set_level(store_ids[code], product_id, item["on_hand"])
            if "plu" in item:
                await set_plu(store_ids[code], item["plu"], product_id)
