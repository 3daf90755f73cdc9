"""The HTML page: accessible structure, text alternatives, escaping, and colours that keep their contrast."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from releve.status._html import INDICATOR_COLOUR, TEXT_COLOURS, THEMES, HtmlRenderer
from releve.store import ComponentStatus, Impact, IncidentStatus, Text, UptimeDay
from unit.status._support import NOW, component, incident, make_view, update


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_text_contrast_is_at_least_4_5_in_both_themes(theme: str) -> None:
    """WCAG AA for text: every text colour on both backgrounds, and the banner's text on every status colour."""
    colours = THEMES[theme]
    for name in TEXT_COLOURS:
        for background in ("bg", "surface"):
            assert contrast(colours[name], colours[background]) >= 4.5, (theme, name, background)
    for status in INDICATOR_COLOUR.values():
        assert contrast(colours["on_status"], colours[status]) >= 4.5, (theme, status)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_uptime_blocks_stand_out_from_the_background(theme: str) -> None:
    """WCAG 1.4.11 for graphics: 3:1 against the page background."""
    colours = THEMES[theme]
    for name in ("nodata", *(status.value for status in ComponentStatus)):
        assert contrast(colours[name], colours["bg"]) >= 3.0, (theme, name)


class Outline(HTMLParser):
    """Tags with their attributes, headings in order, and the text of the document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


def _render(language: str = "fr", view: dict[str, Any] | None = None, languages: tuple[str, ...] = ("fr", "en")) -> str:
    return HtmlRenderer().render(make_view(**(view or {})), language=language, languages=list(languages),
                                 title="État <des> services", root="")


def _outage_view() -> dict[str, Any]:
    support = component("process:support", fr="Support client", en="Customer support",
                        status=ComponentStatus.PARTIAL_OUTAGE)
    search = component("process:search", fr="Recherche", en="Search")
    body = Text("Panne <script>alert('x')</script> & co", "Outage <script>alert('x')</script> & co")
    open_incident = incident("open1", components=("process:support",), impact=Impact.MAJOR, updates=(
        update("open1", "u2", IncidentStatus.IDENTIFIED, 10, fr="Cause trouvée", en="Cause found"),
        update("open1", "u1", IncidentStatus.INVESTIGATING, 30, fr=body.fr, en=body.en)))
    past = incident("past1", status=IncidentStatus.RESOLVED, minutes_ago=3 * 24 * 60,
                    resolved_at=NOW - timedelta(days=2),
                    updates=(update("past1", "p1", IncidentStatus.RESOLVED, 2 * 24 * 60, fr="Réglé", en="Fixed"),))
    window = incident("win1", status=IncidentStatus.SCHEDULED, impact=Impact.MAINTENANCE,
                      components=("process:search",), scheduled_for=NOW + timedelta(days=1),
                      scheduled_until=NOW + timedelta(days=1, hours=2),
                      updates=(update("win1", "w1", IncidentStatus.SCHEDULED, 60, fr="Prévue", en="Planned"),))
    seconds = {ComponentStatus.OPERATIONAL: 85_536.0, ComponentStatus.MAJOR_OUTAGE: 864.0}
    history = {"process:support": [UptimeDay("process:support", NOW.date() - timedelta(days=1), seconds)]}
    return {"components": (support, search), "incidents": (open_incident, past), "maintenances": (window,),
            "history": history}


def test_landmarks_headings_and_language() -> None:
    """header, nav, main, footer; headings never skip a level; the page says its language."""
    html = _render("fr", _outage_view())
    parsed = outline(html)
    assert html.startswith("<!doctype html>")
    assert parsed.find("html")[0]["lang"] == "fr"
    for landmark in ("header", "nav", "main", "footer"):
        assert parsed.find(landmark), landmark
    assert parsed.find("nav")[0]["aria-label"] == "Langue"
    assert parsed.headings[0] == 1 and parsed.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(parsed.headings, parsed.headings[1:], strict=False)), parsed.headings
    assert not parsed.find("script") and not parsed.find("img")


def test_language_switch_is_plain_links() -> None:
    parsed = outline(_render("en", _outage_view()))
    links = {a["hreflang"]: a for a in parsed.find("a") if a.get("hreflang")}
    assert links["fr"]["href"] == "?lang=fr" and links["fr"]["lang"] == "fr"
    assert links["en"]["href"] == "?lang=en" and links["en"]["aria-current"] == "true"
    assert "aria-current" not in links["fr"]
    assert not outline(_render("fr", languages=("fr",))).find("nav")     # one language: nothing to switch


def test_feed_is_announced() -> None:
    parsed = outline(_render("en"))
    feeds = parsed.find("link", rel="alternate", type="application/atom+xml")
    assert feeds and feeds[0]["href"] == "/history.atom?lang=en"


def test_operator_text_is_escaped() -> None:
    """What operators typed shows as text: no markup of theirs reaches the page."""
    html = _render("fr", _outage_view())
    assert "<script>" not in html
    assert "Panne &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html
    assert "État &lt;des&gt; services" in html


def test_status_is_said_in_words_next_to_each_component() -> None:
    text = " ".join(outline(_render("fr", _outage_view())).text)
    assert "Support client" in text and "Panne partielle" in text and "Opérationnel" in text
    text = " ".join(outline(_render("en", _outage_view())).text)
    assert "Customer support" in text and "Partial outage" in text and "Operational" in text
    assert "Partial System Outage" in text


def test_every_uptime_day_has_a_text_alternative() -> None:
    """Ninety days per component, each with a title and a visually hidden text giving date and uptime."""
    parsed = outline(_render("fr", _outage_view()))
    bars = parsed.find("ol", **{"class": "bar"})
    assert [b["aria-label"] for b in bars] == ["Historique de disponibilité sur 90 jours de Support client",
                                               "Historique de disponibilité sur 90 jours de Recherche"]
    days = [a for t, a in parsed.tags if t == "li" and (a.get("class") or "").startswith("d-")]
    assert len(days) == 180
    assert all(a["title"] for a in days)
    yesterday = days[88]["title"]
    assert yesterday == "26 nov. 2026\u00a0: 99,00\u202f% (panne majeure)"
    assert days[89]["title"] == "27 nov. 2026\u00a0: pas de données"
    text = "".join(parsed.text)
    assert "26 nov. 2026\u00a0: 99,00\u202f% (panne majeure)" in text      # the same words for screen readers
    english = outline(_render("en", _outage_view()))
    titles = [a["title"] for t, a in english.tags if t == "li" and (a.get("class") or "").startswith("d-")]
    assert titles[88] == "Nov 26, 2026: 99.00% (major outage)"


def test_sections_show_incidents_maintenance_and_history() -> None:
    html = _render("en", _outage_view())
    text = " ".join(outline(html).text)
    for expected in ("Active incidents", "Cause found", "Identified", "Investigating", "Nov 27, 2026, 13:55 UTC",
                     "Maintenance", "Planned", "From Nov 28, 2026, 14:05 UTC to Nov 28, 2026, 16:05 UTC",
                     "Past incidents (last 14 days)", "Fixed", "Resolved on Nov 25, 2026, 14:05 UTC",
                     "Affected components: Customer support"):
        assert expected in text, expected
    assert 'id="incident-open1"' in html and 'datetime="2026-11-27T13:55:00.000Z"' in html


def test_quiet_page() -> None:
    """No incident, no data: the banner says all is well and the empty sections say so."""
    text = " ".join(outline(_render("fr", {"components": (component("process:a"),)})).text)
    assert "Tous les systèmes sont opérationnels" in text
    assert "Aucun incident signalé ces 14 derniers jours." in text
    assert "pas encore de données" in text
    assert "Incidents en cours" not in text
    assert "No components are monitored yet." in " ".join(outline(_render("en")).text)


def test_stylesheet_has_both_themes_and_a_stable_hash() -> None:
    renderer = HtmlRenderer()
    css, source = renderer.stylesheet()
    assert "@media (prefers-color-scheme: dark)" in css
    assert THEMES["dark"]["bg"] in css and THEMES["light"]["bg"] in css
    assert source.startswith("'sha256-") and HtmlRenderer().stylesheet() == (css, source)
    assert "url(" not in css and "@import" not in css and "@font-face" not in css   # no external asset


def test_unavailable_page() -> None:
    html = HtmlRenderer().render_unavailable(language="en", title="Status")
    assert 'lang="en"' in html and "unavailable" in html
