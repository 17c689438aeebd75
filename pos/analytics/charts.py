"""Charts for the staff dashboard, drawn here as SVG: the browser needs no chart library or JS.

Pure functions of the figures. Every piece of text is XML-escaped (product and county names
come from suppliers' files). Sizes are fixed; the SVG scales with its `viewBox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from html import escape

from pos.analytics.schemas import CohortsOut, SalesOut

__all__ = ["bar_chart", "cohorts_chart", "line_chart", "sales_chart", "yuan"]

WIDTH = 720
BAR_HEIGHT = 22
LABEL_WIDTH = 180
TOP = 40
PLOT_HEIGHT = 260
MAX_BARS = 20
MAX_COHORTS = 12
COLOURS = ("#2f7d4f", "#d9822b", "#3b6fb6", "#b8453a", "#7a5ba6", "#4d8f8c")
_FAMILY = 'font-family="Noto Sans CJK SC, sans-serif"'
_FONT = f'{_FAMILY} font-size="12"'


def yuan(fen: int) -> str:
    """Fen as yuan for people: 123456 -> 1,234.56."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _svg(height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">'
    )
    heading = (
        f'<text x="8" y="22" {_FAMILY} font-size="15" font-weight="bold">{escape(title)}</text>'
    )
    return "".join([head, f"<title>{escape(title)}</title>", heading, *body, "</svg>"])


def bar_chart(title: str, bars: Sequence[tuple[str, int, str]]) -> str:
    """Horizontal bars: (label, value, value as text), longest for the largest value."""
    shown = list(bars)[:MAX_BARS]
    top = max((value for _, value, _ in shown), default=0)
    span = WIDTH - LABEL_WIDTH - 110
    body: list[str] = []
    for n, (label, value, text) in enumerate(shown):
        y = TOP + n * (BAR_HEIGHT + 6)
        length = round(span * value / top) if top > 0 and value > 0 else 0
        body += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" {_FONT}>'
            f"{escape(label[:24])}</text>",
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" '
            f'fill="{COLOURS[0]}"/>',
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 15}" {_FONT}>{escape(text)}</text>',
        ]
    if not shown:
        body.append(f'<text x="8" y="{TOP + 16}" {_FONT}>no data</text>')
    return _svg(TOP + max(len(shown), 1) * (BAR_HEIGHT + 6) + 10, title, body)


def _points(values: Sequence[float | None], top: float, step: float) -> str:
    return " ".join(
        f"{60 + i * step:.1f},{TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top:.1f}"
        for i, v in enumerate(values)
        if v is not None
    )


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_label: str,
) -> str:
    """Lines over the x labels, one per (name, values); the y axis starts at zero."""
    top = max((v for _, values in series for v in values if v is not None), default=0.0) or 1.0
    step = (WIDTH - 80) / max(len(x_labels) - 1, 1)
    bottom = TOP + PLOT_HEIGHT
    body = [
        f'<line x1="60" y1="{bottom}" x2="{WIDTH - 20}" y2="{bottom}" stroke="#888"/>',
        f'<line x1="60" y1="{TOP}" x2="60" y2="{bottom}" stroke="#888"/>',
        f'<text x="56" y="{TOP + 4}" text-anchor="end" {_FONT}>{escape(f"{top:,.4g}")}</text>',
        f'<text x="56" y="{bottom}" text-anchor="end" {_FONT}>0</text>',
        f'<text x="64" y="{TOP - 6}" {_FONT}>{escape(y_label)}</text>',
    ]
    every = max(len(x_labels) // 8, 1)
    for i, label in enumerate(x_labels):
        if i % every == 0:
            body.append(
                f'<text x="{60 + i * step:.1f}" y="{bottom + 16}" text-anchor="middle" {_FONT}>'
                f"{escape(label)}</text>"
            )
    for n, (name, values) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{_points(values, top, step)}"/>'
        )
        body.append(
            f'<text x="{WIDTH - 150}" y="{TOP + 14 * n}" fill="{colour}" {_FONT}>'
            f"{escape(name)}</text>"
        )
    return _svg(bottom + 30, title, body)


def sales_chart(sales: SalesOut) -> str:
    """Sales by day as lines (all and certified), by anything else as the top bars."""
    title = f"Sales by {sales.by}, {sales.scope.date_from} to {sales.scope.date_to} (yuan)"
    if sales.by == "day":
        # Every day of the period is on the axis: one without sales (a closed store) sold 0.
        first, last = sales.scope.date_from, sales.scope.date_to
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        sold = {row.key: row for row in sales.rows}
        rows = [sold.get(day) for day in days]
        return line_chart(
            title,
            [day[5:] for day in days],
            [
                ("net", [row.net_fen / 100 if row else 0.0 for row in rows]),
                ("certified", [row.certified_fen / 100 if row else 0.0 for row in rows]),
            ],
            "yuan",
        )
    bars = [(row.name or row.key, row.net_fen, yuan(row.net_fen)) for row in sales.rows]
    return bar_chart(title, bars)


def cohorts_chart(figures: CohortsOut) -> str:
    """Retention of the latest cohorts, as a share of each cohort, by months or weeks since."""
    shown = figures.cohorts[-MAX_COHORTS:]
    longest = max((len(cohort.active) for cohort in shown), default=1)
    series = [
        (cohort.cohort.isoformat(), [None if r is None else r * 100 for r in cohort.retention])
        for cohort in shown
    ]
    title = f"Retention by {figures.grain} of first purchase (% of the cohort)"
    return line_chart(title, [str(n) for n in range(longest)], series, "%")
