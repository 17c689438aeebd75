"""Load the demo: the certified products of DESIGN.md, two Xiamen stores and their staff.

Everything is upserted by natural keys, so loading twice changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pos.catalog.schemas import ProgressCallback
from pos.catalog.service import import_catalog_file
from pos.staff import service as staff
from pos.stores.layout import apply_layouts_file

__all__ = ["load_demo"]


async def load_demo(directory: Path, *, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Import `catalog.jsonl`, apply `stores.json`, create the users of `staff.json`."""
    report = await import_catalog_file(directory / "catalog.jsonl", progress=progress)
    store_ids = await apply_layouts_file(directory / "stores.json")
    users = json.loads((directory / "staff.json").read_text(encoding="utf-8"))
    for user in users:
        await staff.ensure_user(
            user["username"],
            user["password"],
            display_name=user["display_name"],
            roles=[(role["role"], role.get("store")) for role in user["roles"]],
        )
    return {
        "products": report.rows,
        "stores": len(store_ids),
        "staff": [{"username": u["username"], "password": u["password"]} for u in users],
    }
