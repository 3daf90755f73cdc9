"""The reports' hand-drawn SVG charts: bucketing, bar counts, text alternatives, and the report formats."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from releve.impact import Counts, MinuteCost
from releve.impact._charts import bucket_minutes, cost_chart, requests_chart
from releve.impact._report_text import format_duration, format_money, format_percent
from unit.impact._report_support import MIN, MINUTES, T0

SVG = "{http://www.w3.org/2000/svg}"


SOME = Counts(served=10, failed=1)


def timeline(minutes: int, counts: Counts = SOME) -> list[MinuteCost]:
    return [MinuteCost(T0 + index * MIN, counts, 0.1, 0.5, 0.25) for index in range(minutes)]


@pytest.mark.parametrize(("minutes", "size", "bars"), [
    (1, 1, 1), (10, 1, 10), (60, 1, 60), (61, 2, 31), (90, 2, 45), (24 * 60, 30, 48), (7 * 1440, 180, 56),
    (30 * 1440, 720, 60), (90 * 1440, 2880, 45),
])
def test_minutes_are_bucketed_into_at_most_60_round_bars(minutes: int, size: int, bars: int) -> None:
    assert bucket_minutes(minutes) == size
    chart = requests_chart(timeline(minutes), "en", name="Support")
    assert chart is not None and chart.bars == bars
    assert chart.svg.count('<g class="bar">') == bars


def test_requests_chart_has_a_text_alternative_and_a_legend() -> None:
    scripted = [MinuteCost(T0 + i * MIN, Counts(*counts), 0.0, 0.0, 0.0) for i, counts in enumerate(MINUTES)]
    chart = requests_chart(scripted, "en", name="Customer support")
    assert chart is not None and chart.bars == 10
    root = ET.fromstring(chart.svg)   # well-formed XML, as WeasyPrint needs
    assert root.get("role") == "img" and root.get("aria-label") == chart.alt
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert "10 bars: 580 served by the primary, 300 by a fallback, 0 degraded, 0 deferred, 120 failed" in chart.alt
    assert "Most failures: 30 from Mar 2 10:02" in chart.alt
    bars = root.findall(f"{SVG}g")
    assert len(bars) == 10
    # Minute 2: 70 fallback under 30 failed, each segment in its own colour.
    assert [rect.get("fill") for rect in bars[2].findall(f"{SVG}rect")] == ["#66CCEE", "#EE6677"]
    labels = [text.text for text in root.iter(f"{SVG}text")]
    for legend in ("Primary (580)", "Fallback (300)", "Degraded (0)", "Deferred (0)", "Failed (120)", "requests",
                   "Time (UTC)"):
        assert legend in labels


def test_deferred_requests_are_a_fifth_series_with_their_own_colour() -> None:
    counts = Counts(served=5, fallback=4, degraded=3, failed=1, deferred=2)
    chart = requests_chart([MinuteCost(T0, counts, 0.0, 0.0, 0.0)], "fr", name="Support")
    assert chart is not None
    root = ET.fromstring(chart.svg)
    [bar] = root.findall(f"{SVG}g")
    fills = [rect.get("fill") for rect in bar.findall(f"{SVG}rect")]
    assert len(fills) == 5 and len(set(fills)) == 5   # stacked: primary, fallback, degraded, deferred, failed
    assert fills[3] == "#AA3377"
    assert "2 différées" in (bar.findtext(f"{SVG}title") or "")
    keys = [rect.get("fill") for rect in root.findall(f"{SVG}rect") if rect.get("width") == "12"]
    assert keys == fills                               # one legend key per series, same colours
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert "Différées (2)" in labels
    assert "3 en mode dégradé, 2 différées, 1 en échec." in chart.alt


def test_no_requests_no_chart() -> None:
    assert requests_chart(timeline(10, Counts()), "fr", name="Ventes") is None
    assert requests_chart([], "fr", name="Ventes") is None


def test_cost_chart_is_cumulative_over_processes() -> None:
    chart = cost_chart([timeline(120), timeline(120)], "fr", currency="EUR")
    assert chart is not None and chart.bars == 60
    root = ET.fromstring(chart.svg)
    incurred, avoided = root.findall(f"{SVG}polyline")
    assert len(incurred.get("points", "").split()) == 61      # the origin, then one point per bucket
    assert avoided.get("stroke-dasharray")                    # told apart by dash, not only colour
    # 120 minutes × 0.5 × 2 processes = 120 EUR incurred; 0.25 → 60 EUR avoided.
    assert "120,00\u00a0EUR subis, 60,00\u00a0EUR évités" in chart.alt
    assert root.get("aria-label") == chart.alt
    assert cost_chart([], "fr", currency="EUR") is None


def test_chart_texts_are_escaped() -> None:
    chart = requests_chart(timeline(3), "en", name='<A & "B">')
    assert chart is not None
    ET.fromstring(chart.svg)
    assert "<A &" not in chart.svg


def test_long_charts_label_days() -> None:
    chart = requests_chart(timeline(3 * 1440), "fr", name="Support")
    assert chart is not None
    ticks = re.findall(r'text-anchor="\w+" fill="#333">([^<]+)</text>', chart.svg)
    assert "2 mars 10:00" in ticks and "5 mars 10:00" in ticks


@pytest.mark.parametrize(("seconds", "fr", "en"), [
    (0, "0 s", "0 s"), (45, "45 s", "45 s"), (200, "3 min 20 s", "3 min 20 s"), (480, "8 min", "8 min"),
    (3900, "1 h 5 min", "1 h 5 min"), (2 * 86400 + 3 * 3600 + 5, "2 j 3 h", "2 d 3 h"),
])
def test_durations_are_human(seconds: float, fr: str, en: str) -> None:
    assert format_duration(seconds, "fr").replace("\u00a0", " ") == fr
    assert format_duration(seconds, "en").replace("\u00a0", " ") == en


def test_money_and_percentages() -> None:
    assert format_money(1234.5, "EUR", "fr") == "1\u202f234,50\u00a0EUR"
    assert format_money(1234.5, "EUR", "en") == "1,234.50\u00a0EUR"
    assert format_percent(0.99999, "en") == "99.99%" and format_percent(0.88, "fr") == "88,00\u202f%"
    assert format_duration(timedelta(minutes=90).total_seconds(), "en") == "1\u00a0h 30\u00a0min"
