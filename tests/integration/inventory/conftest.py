"""Inventory test helpers: a supplier with a signing key, signed pushes, a local feed server,
products sharing a barcode."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pos.catalog.tables import Product
from pos.inventory.signing import signed_headers
from pos.staff import supplier_keys
from pos.stores.tables import Store
from tests.helpers.shop import Shop, make_gtin


@dataclass
class SupplierClient:
    """A supplier's system: its API key and signing secret."""

    supplier_id: int
    api_key: str
    signing_secret: str

    async def post(self, client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
        raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
        headers = {"X-Api-Key": self.api_key, "Content-Type": "application/json"}
        headers |= signed_headers(self.signing_secret, raw, datetime.now(UTC))
        return await client.post(
            f"/api/suppliers/{self.supplier_id}{path}", content=raw, headers=headers
        )


async def supplier_client(supplier_id: int) -> SupplierClient:
    issued = await supplier_keys.create_supplier_key(supplier_id)
    return SupplierClient(supplier_id, issued.api_key, issued.signing_secret)


async def certificate_of(product_id: int) -> str:
    row = await Product.select(Product.certificate_no).where(Product.id == product_id).first()
    assert row is not None
    return str(row["certificate_no"])


async def store_code(store_id: int) -> str:
    row = await Store.select(Store.code).where(Store.id == store_id).first()
    assert row is not None
    return str(row["code"])


async def renewed_product(shop: Shop) -> tuple[str, int, int]:
    """A barcode shared by a product whose certificate was revoked (the older) and its renewal's."""
    barcode = make_gtin()
    revoked, renewal = await shop.add(gtin=barcode), await shop.add(gtin=barcode)
    await Product.update({Product.status: "revoked"}).where(Product.id == revoked)
    return barcode, revoked, renewal


class FeedServer:
    """Serves whatever `documents[path]` holds on 127.0.0.1."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    feed = FeedServer()
    thread = threading.Thread(target=feed.server.serve_forever, daemon=True)
    thread.start()
    yield feed
    feed.server.shutdown()
    feed.server.server_close()
    thread.join()
