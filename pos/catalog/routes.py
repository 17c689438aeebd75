"""Catalog API: head office uploads the certified list."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_201_CREATED, HTTP_415_UNSUPPORTED_MEDIA_TYPE

from pos.catalog import service as catalog
from pos.catalog.importer import Format
from pos.catalog.schemas import ImportReport
from pos.staff.actors import StaffActor
from pos.staff.guards import STAFF_ACTOR, staff

__all__ = ["CatalogImportController"]

# The national list is ~60 MB as CSV and ~130 MB as JSON Lines.
MAX_CATALOG_BYTES = 192 * 1024 * 1024
FORMATS_BY_MEDIA_TYPE: dict[str, Format] = {"text/csv": "csv", "application/x-ndjson": "jsonl"}


def _format_of(request: Request[Any, Any, Any]) -> Format:
    media_type = request.content_type[0].lower()
    fmt = FORMATS_BY_MEDIA_TYPE.get(media_type)
    if fmt is None:
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"send the list as text/csv or application/x-ndjson, not {media_type or '-'}",
        )
    return fmt


class CatalogImportController(Controller):
    path = "/api/catalog/imports"
    tags = ("catalog",)
    guards = (staff("manager", head_office=True),)
    dependencies = {"actor": STAFF_ACTOR}

    @post(
        operation_id="importCatalog",
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_CATALOG_BYTES,
        summary="Import a certified list (text/csv or application/x-ndjson body)",
    )
    async def create(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffActor]
    ) -> ImportReport:
        """All or nothing: a file with bad rows answers 422 with each bad line and why."""
        fmt = _format_of(request)
        return await catalog.import_catalog(await request.body(), fmt=fmt, changed_by=actor.name)
