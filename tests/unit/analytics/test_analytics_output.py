"""SVG charts and CSV exports: well-formed, escaped, spreadsheet-safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from pos.analytics.charts import (
    PLOT_HEIGHT,
    TOP,
    bar_chart,
    cohorts_chart,
    line_chart,
    sales_chart,
    yuan,
)
from pos.analytics.export import repeat_csv, sales_csv
from pos.analytics.schemas import (
    CohortOut,
    CohortsOut,
    RepeatOut,
    RepeatRow,
    SalesOut,
    SalesRow,
    ScopeOut,
)

SCOPE = ScopeOut(store_ids=[1], date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
SVG = "{http://www.w3.org/2000/svg}"


def sales(by: str, *rows: tuple[str, str, int]) -> SalesOut:
    return SalesOut.model_validate(
        {
            "scope": SCOPE,
            "by": by,
            "net_fen": sum(r[2] for r in rows),
            "certified_fen": 0,
            "rows": [
                SalesRow(key=k, name=n, net_fen=v, certified_fen=0, quantity=1, weight_g=0)
                for k, n, v in rows
            ],
        }
    )


def test_names_are_escaped_in_charts() -> None:
    svg = sales_chart(sales("product", ("1", '<script>alert("x")</script> & 面条', 1250)))
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert '<script>alert("x")</script> & 面条'[:24] in texts
    assert "<script>" not in svg
    assert "12.50" in texts


def test_bars_are_as_long_as_their_share_and_an_empty_chart_says_so() -> None:
    root = ET.fromstring(bar_chart("t", [("a", 200, "2"), ("b", 100, "1"), ("c", 0, "0")]))
    widths = [int(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
    assert widths[2] == 0
    assert "no data" in bar_chart("t", [])


def test_line_charts_for_days_and_cohorts_are_well_formed() -> None:
    days = sales("day", ("2026-01-01", "2026-01-01", 100), ("2026-01-02", "2026-01-02", 300))
    assert len(list(ET.fromstring(sales_chart(days)).iter(f"{SVG}polyline"))) == 2
    cohort = CohortOut(cohort=date(2026, 1, 1), size=2, active=[2, 1], retention=[1.0, 0.5])
    figures = CohortsOut(scope=SCOPE, grain="month", cohorts=[cohort])
    assert ET.fromstring(cohorts_chart(figures)).tag == f"{SVG}svg"
    assert ET.fromstring(line_chart("empty", [], [], "%")).tag == f"{SVG}svg"


def test_the_sales_by_day_chart_keeps_a_day_without_sales_on_its_axis() -> None:
    # Sales on the 1st, the 2nd and the 31st: the store was closed from the 3rd to the 30th.
    days = sales(
        "day",
        ("2026-01-01", "2026-01-01", 1000),
        ("2026-01-02", "2026-01-02", 1000),
        ("2026-01-31", "2026-01-31", 1000),
    )

    net = next(ET.fromstring(sales_chart(days)).iter(f"{SVG}polyline"))

    points = [[float(v) for v in point.split(",")] for point in net.get("points", "").split()]
    assert len(points) == 31  # every day of January on the axis
    x = [point[0] for point in points]
    # The 1st to the 2nd is a 30th of the way to the 31st, not a half.
    assert round((x[1] - x[0]) / (x[30] - x[0]), 3) == round(1 / 30, 3)
    assert {point[1] for point in points[2:30]} == {TOP + PLOT_HEIGHT}  # nothing sold: 0


def test_yuan() -> None:
    assert (yuan(123456), yuan(5), yuan(-250)) == ("1,234.56", "0.05", "-2.50")


def test_csv_has_a_bom_and_quotes_what_a_spreadsheet_would_run() -> None:
    text = sales_csv(sales("product", ("7", "=HYPERLINK(1)", 100)))
    assert text.startswith("\ufeffproduct,name,net_fen")
    assert text.splitlines()[1] == "7,'=HYPERLINK(1),100,0,1,0"
    row = RepeatRow(key="1", name="蜂蜜", buyers=3, repeat_buyers=0, repeat_rate=None)
    figures = RepeatOut(scope=SCOPE, by="product", rows=[row])
    assert repeat_csv(figures).splitlines()[1] == "1,蜂蜜,3,0,"


def test_csv_quotes_names_starting_with_a_tab_or_carriage_return() -> None:
    text = sales_csv(sales("product", ("7", "\t=1+1", 100), ("8", "\r=1+1", 100)))
    rows = text.split("\r\n")
    assert rows[1] == "7,'\t=1+1,100,0,1,0"
    assert rows[2] == '8,"\'\r=1+1",100,0,1,0'
