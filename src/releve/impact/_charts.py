"""Small inline SVG charts for reports, drawn by hand: requests per time bucket, and cumulative cost.

A few rectangles and a polyline do not need matplotlib; inline SVG stays sharp in WeasyPrint's PDF and
in any browser, and carries its own text alternative (`role="img"`, `aria-label`, `<title>`, `<desc>`).
Colours are Paul Tol's colour-blind-safe "bright" scheme; the cost lines also differ by dash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from ._cost import Counts, MinuteCost
from ._report_text import format_count, format_duration, format_money, format_number, format_tick, label

__all__ = ["MAX_BARS", "Bucket", "Chart", "bucket_minutes", "buckets", "cost_chart", "requests_chart"]

MAX_BARS = 60
_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
SERIES = (("served", "primary", "#4477AA"), ("fallback", "fallback", "#66CCEE"),
          ("degraded", "degraded", "#CCBB44"), ("deferred", "deferred", "#AA3377"), ("failed", "failed", "#EE6677"))
_INCURRED, _AVOIDED = "#CC3311", "#009988"

_W = 640
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 612, 12, 180


@dataclass(frozen=True, slots=True)
class Chart:
    svg: str     # one <svg> element, escaped, to inline as is
    alt: str     # the same information as a sentence
    bars: int    # buckets drawn


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    counts: Counts
    cost: float
    avoided: float


def bucket_minutes(minutes: int, max_bars: int = MAX_BARS) -> int:
    """The smallest round bucket (1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7 d…) giving <= max_bars."""
    for size in _NICE:
        if math.ceil(minutes / size) <= max_bars:
            return size
    return math.ceil(minutes / max_bars)


def buckets(timeline: Sequence[MinuteCost], size: int) -> list[Bucket]:
    out = []
    for index in range(0, len(timeline), size):
        chunk = timeline[index:index + size]
        counts = Counts()
        for minute in chunk:
            counts += minute.counts
        out.append(Bucket(chunk[0].minute, counts, sum(m.cost for m in chunk), sum(m.avoided for m in chunk)))
    return out


def _nice_top(maximum: float, *, whole: bool) -> tuple[float, float]:
    """(axis top, tick step): four or five round steps covering `maximum`."""
    if maximum <= 0:
        return (4.0, 1.0) if whole else (1.0, 0.25)
    raw = maximum / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, math.ceil(step))
    return step * math.ceil(maximum / step - 1e-9), step


def _svg(title: str, alt: str, body: list[str], legend: list[tuple[str, str, str]]) -> str:
    """The <svg> element: text alternative first, then the body, then the legend (wrapped to fit)."""
    keys, x, y = [], float(_LEFT), _BOTTOM + 56
    for colour, text, style in legend:
        width = 30 + 6.3 * len(text)
        if x + width > _RIGHT + 8 and x > _LEFT:
            x, y = float(_LEFT), y + 18
        if style == "box":
            keys.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if style == "dash" else ""
            keys.append(f'<line x1="{x:.1f}" x2="{x + 18:.1f}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
                        f'stroke-width="2.5"{dash}/>')
        keys.append(f'<text x="{x + 22:.1f}" y="{y}" fill="#333">{escape(text)}</text>')
        x += width
    height = y + 8
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_W} {height}" width="{_W}" '
        f'height="{height}" role="img" aria-label="{escape(alt)}" font-family="DejaVu Sans, sans-serif" '
        'font-size="11">',
        f"<title>{escape(title)}</title>", f"<desc>{escape(alt)}</desc>", *body, *keys, "</svg>"])


def _frame(y_title: str, ticks: list[tuple[float, str]], x_labels: list[tuple[float, str]],
           x_title: str) -> list[str]:
    parts: list[str] = []
    for y, text in ticks:
        parts.append(f'<line x1="{_LEFT}" x2="{_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0" '
                     'stroke-width="0.5"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{escape(text)}</text>')
    parts.append(f'<line x1="{_LEFT}" x2="{_RIGHT}" y1="{_BOTTOM}" y2="{_BOTTOM}" stroke="#333" stroke-width="1"/>')
    for x, text in x_labels:
        anchor = "end" if x >= _RIGHT else "middle"   # the last label ends at the axis end, inside the drawing
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_BOTTOM}" y2="{_BOTTOM + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{_BOTTOM + 16}" text-anchor="{anchor}" fill="#333">{escape(text)}</text>')
    parts.append(f'<text x="{(_LEFT + _RIGHT) / 2:.1f}" y="{_BOTTOM + 34}" text-anchor="middle" '
                 f'fill="#333">{escape(x_title)}</text>')
    middle = (_TOP + _BOTTOM) / 2
    parts.append(f'<text x="14" y="{middle:.1f}" text-anchor="middle" fill="#333" '
                 f'transform="rotate(-90 14 {middle:.1f})">{escape(y_title)}</text>')
    return parts


def _x_labels(start: datetime, size: int, count: int, language: str) -> list[tuple[float, str]]:
    """Up to six times along the x axis, at bucket boundaries (the axis spans `count` whole buckets)."""
    span = timedelta(minutes=size * count)
    with_day = span > timedelta(days=1) or start.date() != (start + span - timedelta(microseconds=1)).date()
    steps = min(5, count)
    out = []
    for index in sorted({round(step * count / steps) for step in range(steps + 1)}):
        x = _LEFT + (_RIGHT - _LEFT) * index / count
        out.append((x, format_tick(start + timedelta(minutes=size * index), language, with_day=with_day)))
    return out


def requests_chart(timeline: Sequence[MinuteCost], language: str, *, name: str) -> Chart | None:
    """Stacked bars of requests (primary, fallback, degraded, deferred, failed) per bucket; None without any
    request."""
    if not timeline or not any(m.counts.total for m in timeline):
        return None
    size = bucket_minutes(len(timeline))
    rows = buckets(timeline, size)
    start, end = timeline[0].minute, timeline[-1].minute + timedelta(minutes=1)
    totals = Counts()
    for row in rows:
        totals += row.counts
    bucket = format_duration(size * 60, language)
    title = label("chart_requests", language, name=name, bucket=bucket)
    alt = label("chart_requests_alt", language, name=name, bucket=bucket,
                start=format_tick(start, language, with_day=True), end=format_tick(end, language, with_day=True),
                bars=len(rows), **{key: format_count(getattr(totals, key), language) for key, _, _ in SERIES})
    peak = max(rows, key=lambda row: row.counts.failed)
    if peak.counts.failed:
        alt += label("chart_peak", language, count=format_count(peak.counts.failed, language),
                     at=format_tick(peak.start, language, with_day=True))
    top, step = _nice_top(max(row.counts.total for row in rows), whole=True)
    scale = (_BOTTOM - _TOP) / top
    ticks = [(_BOTTOM - value * scale, format_number(value, language)) for value in _steps(top, step)]
    parts = _frame(label("axis_requests", language), ticks, _x_labels(start, size, len(rows), language),
                   label("axis_time", language))
    width = (_RIGHT - _LEFT) / len(rows)
    gap = width * 0.15 if width > 4 else 0.0
    for index, row in enumerate(rows):
        x = _LEFT + index * width + gap / 2
        counts = ", ".join(f"{format_count(getattr(row.counts, key), language)} {label(text, language).lower()}"
                           for key, text, _ in SERIES)
        parts.append(f'<g class="bar"><title>{escape(format_tick(row.start, language, with_day=True))}: '
                     f"{escape(counts)}</title>")
        y = float(_BOTTOM)
        for key, _, colour in SERIES:
            height = getattr(row.counts, key) * scale
            if height > 0:
                y -= height
                parts.append(f'<rect x="{x:.2f}" y="{y:.2f}" width="{width - gap:.2f}" height="{height:.2f}" '
                             f'fill="{colour}"/>')
        parts.append("</g>")
    legend = [(colour, f"{label(text, language)} ({format_count(getattr(totals, key), language)})", "box")
              for key, text, colour in SERIES]
    return Chart(_svg(title, alt, parts, legend), alt, len(rows))


def _steps(top: float, step: float) -> list[float]:
    count = round(top / step)
    return [step * index for index in range(count + 1)]


def cost_chart(timelines: Sequence[Sequence[MinuteCost]], language: str, *, currency: str) -> Chart | None:
    """Cumulative cost incurred and avoided, summed over processes whose timelines cover the same minutes."""
    timelines = [t for t in timelines if t]
    if not timelines:
        return None
    length = len(timelines[0])
    size = bucket_minutes(length)
    per_bucket = [buckets(t, size) for t in timelines]
    count = len(per_bucket[0])
    start, end = timelines[0][0].minute, timelines[0][-1].minute + timedelta(minutes=1)
    incurred, avoided = [0.0], [0.0]
    for index in range(count):
        incurred.append(incurred[-1] + sum(rows[index].cost for rows in per_bucket))
        avoided.append(avoided[-1] + sum(rows[index].avoided for rows in per_bucket))
    loss_text, avoided_text = format_money(incurred[-1], currency, language), format_money(avoided[-1], currency,
                                                                                            language)
    title = label("chart_cost", language)
    alt = label("chart_cost_alt", language, start=format_tick(start, language, with_day=True),
                end=format_tick(end, language, with_day=True), loss=loss_text, avoided=avoided_text)
    top, step = _nice_top(max(incurred[-1], avoided[-1]), whole=False)
    scale = (_BOTTOM - _TOP) / top
    decimals = 0 if step >= 1 else 2
    ticks = [(_BOTTOM - value * scale, format_number(value, language, decimals)) for value in _steps(top, step)]
    parts = _frame(label("axis_money", language, currency=currency), ticks,
                   _x_labels(start, size, count, language), label("axis_time", language))
    width = (_RIGHT - _LEFT) / count
    for values, colour, dash in ((incurred, _INCURRED, ""), (avoided, _AVOIDED, ' stroke-dasharray="6 4"')):
        points = " ".join(f"{_LEFT + index * width:.2f},{_BOTTOM - value * scale:.2f}"
                          for index, value in enumerate(values))
        parts.append(f'<polyline class="line" points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"'
                     f'{dash}/>')
    legend = [(_INCURRED, f"{label('cost_incurred', language)} ({loss_text})", "line"),
              (_AVOIDED, f"{label('cost_avoided', language)} ({avoided_text})", "dash")]
    return Chart(_svg(title, alt, parts, legend), alt, count)
