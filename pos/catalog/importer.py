"""Read a certified-catalog file into validated records, or refuse it whole (pure: no database).

The file format
---------------
One row per certified product, as CSV (UTF-8, a header row naming the columns in any order) or
as JSON Lines (one JSON object per line with the same keys; numbers may be JSON integers and
optional values null). Values are trimmed of surrounding white space. Lines are numbered from
1 (in CSV the header is line 1; a quoted value may span lines); blank lines are skipped, as are
CSV rows whose fields are all empty (`,,,,`, as Excel saves rows whose cells were cleared).

Required, with a value:
- certificate_no: the certificate number, the key a product is updated by (at most 40 chars)
- scheme: the certification scheme, e.g. `national-2026`
- status: `active`, `suspended` or `revoked`; only active certificates count as certified. A
  suspended certificate may become active again; a revoked one never: a row making a certificate
  the catalog holds as revoked active or suspended is a bad line (say an older list loaded after
  the newer one that revoked it)
- valid_from, valid_until: `YYYY-MM-DD`, valid_from <= valid_until; outside them it has expired
- certifying_county_code: 6-digit code of the county that certified it; it must be the origin
  county of some row in the file, or a county already in the catalog
- origin_county_code: 6-digit administrative code (GB/T 2260); its first 2 digits are the
  province code, which must be a province's, and its last 4 are not `0000` (the province's own)
- origin_county_name: the same on every row with that county code
- province_name: the same on every row with that province code
- supplier_credit_code: 18-character unified social credit code with its GB 32100-2015 check
  character
- supplier_name: the same on every row of that supplier, as are its English name and county
- unit: `piece` or `kg`; the price is per piece or per kg
- price_fen: the price, a whole number of fen from 1 to 2,147,483,647
- name_zh: the Chinese name; its pinyin initials are stored for search

Required, may be empty:
- status_notice: the public notice of a suspension or revocation
- name_en, category (e.g. `noodles`), poverty_help (how the supplier helps poor households),
  origin_text (the origin story shown to shoppers), traceability (the traceability chain)
- quality_labels: labels separated by `;` or `|`, e.g. `green;gi`
- image_url: empty, a path starting with `/`, or an https URL

Optional, may be left out:
- supplier_name_en
- supplier_county_code: where the supplier is based, known like the certifying county;
  when empty, the origin county
- gtin: EAN-13, EAN-8 or UPC-A with a valid check digit (a UPC-A is stored as its EAN-13)
- shelf_life_days: a whole number of days from 0 to 36,500

An optional column left out keeps what the catalog holds: a delta file of new prices exported
without `gtin` leaves every barcode as it is. In JSON Lines a key missing from an object keeps
that row's value (the rows of one supplier leave out the same supplier keys). An empty value
clears it instead (an empty CSV cell, JSON null or ""): that is how an operator removes a
barcode or a shelf life; an empty supplier_county_code sets the origin county. A new product or
supplier gets no value for a column left out (its origin county as the supplier's county).

Text is limited to the catalog's column lengths (names 128 characters, county and province
names 64, status_notice 80, quality_labels 120 joined, image_url 255, long texts 4,000).
Certificates already in the catalog but not in the file are left as they are.

A file with any bad row is refused whole and changes nothing: the error (HTTP 422, code
`catalog_rejected`) lists each bad line as {"line": n, "reason": "..."}, every problem of the
line in its reason; the first 1,000 bad lines are listed and `error_count` counts them all.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal, NamedTuple

from pos.catalog.checks import check_places, check_products
from pos.catalog.columns import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    CatalogFile,
    Columns,
    LeftOut,
    Places,
    Problems,
    Products,
    SupplierRecord,
)
from pos.catalog.schemas import ProgressCallback, no_progress
from pos.errors import InvalidInput

__all__ = ["MAX_REPORTED_ERRORS", "SLICE_ROWS", "Format", "Part", "parse_catalog", "parse_parts"]

Format = Literal["csv", "jsonl"]
Part = Places | Products

MAX_REPORTED_ERRORS = 1000
PROGRESS_EVERY = 10_000
SLICE_ROWS = 25_000
_REQUIRED_COLUMNS = frozenset(COLUMNS) - OPTIONAL_COLUMNS
_KNOWN_COLUMNS = frozenset(COLUMNS)
# Only an escape in the line can make a surrogate: the file itself was decoded as strict UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Rejected(Exception):
    """The file cannot be read at all (encoding, header, CSV quoting): one error, no checks."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Table(NamedTuple):
    """The file's rows as columns; `problems` knows each row's line and the unreadable ones."""

    columns: Columns
    left_out: LeftOut
    problems: Problems


def parse_parts(
    data: bytes,
    *,
    fmt: Format,
    known_counties: frozenset[str] = frozenset(),
    revoked: frozenset[str] = frozenset(),
    progress: ProgressCallback | None = None,
) -> Iterator[Part]:
    """Check a catalog file and yield what it holds: first its places, then its products a
    slice at a time with the suppliers each slice introduces, so writing can start early.

    Nothing more is yielded once a bad row is found; at the end InvalidInput (code
    "catalog_rejected") lists every bad line. `known_counties` are county codes already in the
    catalog, which rows may name without describing them; `revoked` are certificate numbers it
    holds as revoked, which rows may not make active or suspended again.
    """
    report = progress or no_progress
    table = _read(data, fmt, report)
    problems, rows = table.problems, len(table.problems.lines)
    places = check_places(table.columns, known_counties, problems)
    if not problems:
        yield places
    suppliers: dict[str, tuple[SupplierRecord, int]] = {}
    for start in range(0, rows, SLICE_ROWS):
        stop = min(start + SLICE_ROWS, rows)
        part = {key: values[start:stop] for key, values in table.columns.items()}
        left_out = {key: flags[start:stop] for key, flags in table.left_out.items()}
        products = check_products(part, left_out, suppliers, problems.part(start, stop), revoked)
        if not problems:
            yield products
        report("check", stop, rows)
    if problems:
        raise _rejection(problems.errors())


def parse_catalog(
    data: bytes,
    *,
    fmt: Format,
    known_counties: frozenset[str] = frozenset(),
    revoked: frozenset[str] = frozenset(),
    progress: ProgressCallback | None = None,
) -> CatalogFile:
    """The whole checked file at once; see `parse_parts`."""
    places, suppliers, products = None, {}, []
    parts = parse_parts(
        data, fmt=fmt, known_counties=known_counties, revoked=revoked, progress=progress
    )
    for part in parts:
        if isinstance(part, Places):
            places = part
        else:
            suppliers.update(part.suppliers)
            products.extend(part.records)
    assert places is not None, "parse_parts yields the places before any product"
    return CatalogFile(places, suppliers, products)


def _read(data: bytes, fmt: Format, progress: ProgressCallback) -> _Table:
    try:
        text = _decode(data)
        table = _read_csv(text, progress) if fmt == "csv" else _read_jsonl(text, progress)
    except _Rejected as exc:
        raise _rejection([(exc.line, exc.reason)]) from None
    _find_nul(table)
    return table


def _find_nul(table: _Table) -> None:
    """Name the rows with a NUL character in a field: PostgreSQL's text cannot hold one."""
    for key, values in table.columns.items():
        if "\x00" in "".join(values):
            rows = (i for i, value in enumerate(values) if "\x00" in value)
            table.problems.add(rows, f"{key} holds a NUL character")


def _rejection(errors: list[tuple[int, str]]) -> InvalidInput:
    shown = [{"line": line, "reason": reason} for line, reason in errors[:MAX_REPORTED_ERRORS]]
    return InvalidInput(
        f"The catalog file has {len(errors)} bad lines; nothing was imported.",
        code="catalog_rejected",
        errors=shown,
        error_count=len(errors),
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        # The usual cause is a whole file in GBK or GB18030, as Excel saves CSV on Chinese Windows.
        raise _Rejected(line, "not UTF-8 text: save the file as UTF-8 (Excel: CSV UTF-8)") from None


def _read_csv(text: str, progress: ProgressCallback) -> _Table:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    total = text.count("\n")
    rows: list[list[str]] = []
    lines: list[int] = []
    unreadable: list[tuple[int, str]] = []
    line = 1
    try:
        header = []
        for names in reader:
            if _filled(names):
                header = _stripped(names)
                break
            line = reader.line_num + 1
        _check_header(header, line)
        line = reader.line_num + 1
        for values in reader:
            # A blank line, spaces and all, is no row; nor is one of cleared cells (",,,,").
            if len(values) == len(header) and _filled(values):
                rows.append(values)
                lines.append(line)
            elif _filled(values):
                unreadable.append((line, f"has {len(values)} fields, the header has {len(header)}"))
            line = reader.line_num + 1
            if line % PROGRESS_EVERY == 0:
                progress("read", line, total)
    except csv.Error as exc:
        raise _Rejected(line, f"unreadable CSV: {exc}") from None
    progress("read", total, total)
    absent = OPTIONAL_COLUMNS.difference(header)
    columns: Columns = dict.fromkeys(absent, [""] * len(rows))
    transposed = zip(*rows, strict=True) if rows else [()] * len(header)
    columns.update((key, _stripped(values)) for key, values in zip(header, transposed, strict=True))
    left_out: LeftOut = dict.fromkeys(absent, [True] * len(rows))
    return _Table(columns, left_out, _problems(lines, unreadable))


def _stripped(values: Iterable[str]) -> list[str]:
    return list(map(str.strip, values))


def _filled(values: Iterable[str]) -> bool:
    return any(map(str.strip, values))


def _problems(lines: list[int], unreadable: list[tuple[int, str]]) -> Problems:
    problems = Problems(lines)
    for line, reason in unreadable:
        problems.add_line(line, reason)
    return problems


def _check_header(header: list[str], line: int) -> None:
    if not header:
        raise _Rejected(1, "the file is empty")
    problems = _key_problems(header, "columns")
    if len(set(header)) != len(header):
        problems.append("a column is named twice")
    if problems:
        raise _Rejected(line, "; ".join(problems))


def _key_problems(keys: Iterable[str], what: str) -> list[str]:
    names = set(keys)
    problems = []
    if missing := sorted(_REQUIRED_COLUMNS - names):
        problems.append(f"missing {what}: {', '.join(missing)}")
    if unknown := sorted(names - _KNOWN_COLUMNS):
        named = (name or "one without a name (a comma too many?)" for name in unknown)
        problems.append(f"unknown {what}: {', '.join(named)}")
    return problems


def _read_jsonl(text: str, progress: ProgressCallback) -> _Table:
    objects: list[dict[str, str]] = []
    lines: list[int] = []
    unreadable: list[tuple[int, str]] = []
    # Not splitlines(): JSON text may hold U+2028 and other separators unescaped.
    raw_lines = text.split("\n")
    # The text after a final newline is no line of the file.
    total = len(raw_lines) - 1 if raw_lines[-1] == "" else len(raw_lines)
    for line, raw in enumerate(raw_lines, start=1):
        if raw.strip():
            fields = _json_fields(raw)
            if isinstance(fields, str):
                unreadable.append((line, fields))
            else:
                objects.append(fields)
                lines.append(line)
        if line % PROGRESS_EVERY == 0:
            progress("read", line, total)
    progress("read", total, total)
    columns: Columns = {key: _stripped(obj.get(key, "") for obj in objects) for key in COLUMNS}
    flags = {key: [key not in obj for obj in objects] for key in OPTIONAL_COLUMNS}
    left_out: LeftOut = {key: rows for key, rows in flags.items() if any(rows)}
    return _Table(columns, left_out, _problems(lines, unreadable))


def _holds_lone_surrogate(obj: dict[str, Any]) -> bool:
    """Whether a key or value is not text: JSON escapes a character past U+FFFF as a pair of
    surrogates, and one alone decodes to a string no database (nor UTF-8) can hold."""
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _json_fields(raw: str) -> dict[str, str] | str:
    """A JSON line's values as text, or why the line cannot be used."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        return f"not JSON: {exc}"
    if not isinstance(obj, dict):
        return "not a JSON object"
    if _SURROGATE_ESCAPE.search(raw) and _holds_lone_surrogate(obj):
        return "holds half of a UTF-16 surrogate pair (an escape \\ud800 to \\udfff alone)"
    keys = obj.keys()
    problems = [] if _REQUIRED_COLUMNS <= keys <= _KNOWN_COLUMNS else _key_problems(obj, "keys")
    for key, value in obj.items():
        if type(value) is str:
            continue
        if value is None:
            obj[key] = ""
        elif type(value) is int:
            obj[key] = str(value)
        else:
            problems.append(f"{key} must be a string or an integer")
    return "; ".join(problems) if problems else obj
