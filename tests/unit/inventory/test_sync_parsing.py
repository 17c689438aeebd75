from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime, timedelta

import pytest

from pos.errors import InvalidInput, NotAuthenticated
from pos.inventory.feeds import parse_feed
from pos.inventory.signing import check_signed, signed_headers

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_a_csv_feed_parses_into_updates_in_utc() -> None:
    content = (
        b"certificate_no,available,updated_at\n"
        b"C1,120,2026-06-01T10:00:00+08:00\n"
        b"C2,0,2026-06-01T02:00:00Z\n"
    )
    updates, lines = parse_feed("csv", content)
    assert [(u.certificate_no, u.available) for u in updates] == [("C1", 120), ("C2", 0)]
    assert lines == [2, 3]
    assert updates[0].updated_at == datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def test_a_bad_csv_feed_is_refused_naming_each_line() -> None:
    content = (
        b"certificate_no,available,updated_at\n"
        b"C1,120,2026-06-01T10:00:00+08:00\n"
        b"C2,-4,2026-06-01T02:00:00Z\n"
        b"C3,5,yesterday\n"
    )
    with pytest.raises(InvalidInput) as refused:
        parse_feed("csv", content)
    assert refused.value.code == "supplier_update_invalid"
    lines = [(e["line"], e["reason"].split(":")[0]) for e in refused.value.extra["errors"]]
    assert lines == [(3, "available"), (4, "updated_at")]


def test_a_bad_csv_line_is_named_by_its_line_past_blank_and_multiline_ones() -> None:
    content = (
        b"certificate_no,available,updated_at\n"
        b"\n"
        b'"C1\nC1",120,2026-06-01T10:00:00+08:00\n'
        b"C2,-4,2026-06-01T02:00:00Z\n"
    )
    with pytest.raises(InvalidInput) as refused:
        parse_feed("csv", content)
    assert [e["line"] for e in refused.value.extra["errors"]] == [5]


def test_a_csv_feed_with_another_header_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_feed("csv", b"cert,qty\nC1,3\n")
    assert refused.value.extra["errors"][0]["line"] == 1


def test_a_csv_line_with_more_fields_than_the_header_is_refused_naming_it() -> None:
    document = (
        b"certificate_no,available,updated_at\n"
        b"T-000001,1,2026-01-01T00:00:00Z\n"
        b"T-000002,1,200,2026-01-01T00:00:00Z\n"  # "1,200" not quoted: not 1 unit
    )
    with pytest.raises(InvalidInput) as refused:
        parse_feed("csv", document)
    assert refused.value.code == "supplier_update_invalid"
    assert [error["line"] for error in refused.value.extra["errors"]] == [3]


def test_a_json_feed_names_the_bad_update() -> None:
    body = {"updates": [{"certificate_no": "C1", "available": 3, "updated_at": "2026-06-01"}]}
    body["updates"].append({"certificate_no": "C2", "available": 1})
    with pytest.raises(InvalidInput) as refused:
        parse_feed("json", json.dumps(body).encode())
    assert [e["line"] for e in refused.value.extra["errors"]] == [1, 2]


@pytest.mark.parametrize(
    ("format", "content"),
    [
        ("csv", b"certificate_no,available,updated_at\nC1,3,2026-06-01T02:00:00Z\n"),
        (
            "json",
            b'{"updates": [{"certificate_no": "C1", "available": 3,'
            b' "updated_at": "2026-06-01T02:00:00Z"}]}',
        ),
    ],
)
def test_a_feed_saved_with_a_byte_order_mark_is_read(format: str, content: bytes) -> None:
    updates, lines = parse_feed(format, codecs.BOM_UTF8 + content)
    assert [(u.certificate_no, u.available) for u in updates] == [("C1", 3)]
    assert len(lines) == 1


@pytest.mark.parametrize(
    "updated_at",
    [
        "1999-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "0001-01-01T00:00:00+05:00",  # its UTC time is before what a datetime holds
        "9999-12-31T23:00:00-05:00",  # and this one's past it
    ],
)
def test_a_feed_time_outside_the_years_2000_to_2100_is_refused_naming_its_line(
    updated_at: str,
) -> None:
    content = f"certificate_no,available,updated_at\nC1,3,{updated_at}\n".encode()
    with pytest.raises(InvalidInput) as refused:
        parse_feed("csv", content)
    [error] = refused.value.extra["errors"]
    assert (error["line"], error["reason"].split(":")[0]) == (2, "updated_at")


@pytest.mark.parametrize(
    ("format", "content"),
    [
        ("csv", b"certificate_no,available,updated_at\nC1\x00,3,2026-06-01T02:00:00Z\n"),
        ("json", b'{"updates": [{"certificate_no": "C1\\u0000", "available": 3}]}'),
    ],
)
def test_a_feed_with_a_nul_is_refused_whole(format: str, content: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_feed(format, content)
    assert refused.value.extra["errors"][0]["reason"] == "the feed holds a NUL character"


def test_a_signature_holds_for_its_body_and_time_only() -> None:
    headers = signed_headers("s3cret", b'{"a":1}', NOW)
    check_signed("s3cret", headers, b'{"a":1}', NOW + timedelta(minutes=4))
    with pytest.raises(NotAuthenticated) as forged:
        check_signed("s3cret", headers, b'{"a":2}', NOW)
    assert forged.value.code == "signature_invalid"
    with pytest.raises(NotAuthenticated) as stale:
        check_signed("s3cret", headers, b'{"a":1}', NOW + timedelta(minutes=6))
    assert stale.value.code == "signature_stale"
    with pytest.raises(NotAuthenticated):
        check_signed("s3cret", {}, b"", NOW)
