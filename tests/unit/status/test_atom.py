"""The Atom feed parses with a real feed parser, in each language, whatever operators typed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import feedparser

from releve.status._atom import build_feed, entry_id
from releve.status._statuspage import PageInfo
from releve.store import Impact, IncidentStatus, Text
from unit.status._support import NOW, incident, make_view, update

PAGE = PageInfo(id="abcdefghijkl", name="État des services", url="https://status.example.com/status", updated_at=NOW)


def _feed(language: str, view_incidents: tuple = (), maintenances: tuple = ()) -> feedparser.FeedParserDict:
    view = make_view(incidents=view_incidents, maintenances=maintenances)
    body = build_feed(view, PAGE, language, self_url="https://status.example.com/history.atom?lang=" + language,
                      page_url=f"https://status.example.com/status?lang={language}")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_entries_newest_first_with_updates_in_the_language() -> None:
    """One entry per incident or window, newest first, each with its title, times, link and every update."""
    old = incident("old", status=IncidentStatus.RESOLVED, minutes_ago=600,
                   updates=(update("old", "o2", IncidentStatus.RESOLVED, 500, fr="Réglé", en="Fixed"),
                            update("old", "o1", IncidentStatus.INVESTIGATING, 600, fr="On cherche", en="Looking")))
    new = incident("new", minutes_ago=30, updates=(update("new", "n1", IncidentStatus.IDENTIFIED, 30),))
    window = incident("win", status=IncidentStatus.SCHEDULED, impact=Impact.MAINTENANCE, minutes_ago=100,
                      scheduled_for=NOW + timedelta(days=1), scheduled_until=NOW + timedelta(days=1, hours=1))
    for language in ("fr", "en"):
        parsed = _feed(language, (new, old), (window,))
        assert [e.title for e in parsed.entries] == [f"Incident {i} {language}" for i in ("new", "win", "old")]
        first = parsed.entries[0]
        assert first.id == entry_id("new")
        assert first.link == f"https://status.example.com/status?lang={language}#incident-new"
        assert first.published == "2026-11-27T13:35:00.000Z"
        last = parsed.entries[2]
        content = last.content[0].value
        assert ("Fixed" in content) is (language == "en")
        newest, oldest = ("Réglé", "On cherche") if language == "fr" else ("Fixed", "Looking")
        assert content.index(newest) < content.index(oldest)
    assert _feed("fr", (new,)).feed.title == "État des services\u00a0: historique des incidents"
    assert _feed("en", (new,)).feed.language == "en"


def test_operator_text_is_escaped_and_stripped_of_what_xml_forbids() -> None:
    """Markup in operator text stays text; control characters that XML 1.0 rejects are dropped."""
    nasty = Text("<script>alert(1)</script> & \x00\x07\x1bfin", "<b>bold</b> & \x0bend")
    item = incident("x", updates=(update("x", "u", IncidentStatus.INVESTIGATING, 5, fr=nasty.fr, en=nasty.en),))
    item = dataclasses.replace(item, name=nasty)
    for language in ("fr", "en"):
        entry = _feed(language, (item,)).entries[0]
        assert "<" in entry.title and "\x00" not in entry.title
        content = entry.content[0].value
        assert "&lt;script&gt;" in content or "&lt;b&gt;" in content
        assert "<script>" not in content and "<b>" not in content


def test_ids_do_not_depend_on_the_language() -> None:
    """The same incident is the same entry in both feeds; the feed id is stable too."""
    item = incident("same", updates=(update("same", "u", IncidentStatus.INVESTIGATING, 5),))
    fr, en = _feed("fr", (item,)), _feed("en", (item,))
    assert fr.entries[0].id == en.entries[0].id
    assert fr.feed.id == en.feed.id


def test_an_empty_history_is_a_valid_feed() -> None:
    parsed = _feed("en")
    assert parsed.entries == []
    assert parsed.feed.updated == "2026-11-27T14:05:00.000Z"
