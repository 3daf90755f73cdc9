"""Words, dates and language choice: every string exists in both languages, and formats follow each language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from releve.status._i18n import (
    COMPONENT_STATUS,
    DESCRIPTIONS,
    IMPACT,
    INCIDENT_STATUS,
    LABELS,
    colon,
    format_datetime,
    format_day,
    format_percent,
    label,
    negotiate,
)
from releve.store import ComponentStatus, Impact, IncidentStatus


def test_every_string_is_in_french_and_english() -> None:
    """No label is missing a language or left empty, and every enumeration value has a label."""
    for table in (LABELS, DESCRIPTIONS, COMPONENT_STATUS, INCIDENT_STATUS, IMPACT):
        for key, texts in table.items():
            assert set(texts) == {"fr", "en"}, key
            assert all(text.strip() for text in texts.values()), key
    assert set(COMPONENT_STATUS) == set(ComponentStatus)
    assert set(INCIDENT_STATUS) == set(IncidentStatus)
    assert set(IMPACT) == set(Impact)


@pytest.mark.parametrize(("query", "header", "expected"), [
    ("en", "fr-FR,fr;q=0.9", "en"),                 # ?lang= wins
    ("EN", None, "en"),
    ("de", "en-GB,en;q=0.8", "en"),                 # an unknown ?lang= is ignored
    (None, "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
    (None, "en-US,en;q=0.9,fr;q=0.8", "en"),
    (None, "fr;q=0.4, en;q=0.8", "en"),             # q-values, not header order
    (None, "de-DE, en;q=0.5, fr;q=0.5", "en"),      # ties keep header order; unsupported ones are skipped
    (None, "en;q=0, fr;q=0.1", "fr"),               # q=0 means "not this one"
    (None, "en;q=abc, fr;q=0.2", "fr"),             # a malformed q counts as 0
    (None, "de, *;q=0.1", "fr"),                    # the wildcard takes the first configured language
    (None, "de, it", "fr"),
    (None, "", "fr"),
    (None, None, "fr"),
])
def test_language_negotiation(query: str | None, header: str | None, expected: str) -> None:
    assert negotiate(query, header, ["fr", "en"]) == expected


def test_only_configured_languages_are_offered() -> None:
    """A page configured in English only answers English, whatever the request asks for."""
    assert negotiate("fr", "fr-FR", ["en"]) == "en"
    assert negotiate(None, "fr-FR, en;q=0.1", ["en", "fr"]) == "fr"
    assert negotiate(None, None, ["en", "fr"]) == "en"


def test_dates_in_each_language() -> None:
    moment = datetime(2026, 11, 27, 14, 5, 59, tzinfo=UTC)
    assert format_day(moment.date(), "fr") == "27 nov. 2026"
    assert format_day(moment.date(), "en") == "Nov 27, 2026"
    assert format_day(date(2026, 5, 1), "fr") == "1 mai 2026"
    assert format_day(date(2026, 8, 3), "fr") == "3 août 2026"
    assert format_datetime(moment, "fr") == "27 nov. 2026, 14:05 UTC"
    assert format_datetime(moment, "en") == "Nov 27, 2026, 14:05 UTC"


def test_dates_are_shown_in_utc_whatever_the_zone_given() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2026, 11, 28, 0, 30, tzinfo=paris), "en") == "Nov 27, 2026, 23:30 UTC"


@pytest.mark.parametrize(("ratio", "fr", "en"), [
    (1.0, "100,00\u202f%", "100.00%"),
    (0.99921, "99,92\u202f%", "99.92%"),
    (0.99999, "99,99\u202f%", "99.99%"),   # rounded down: never shows a perfect 100 % that was not
    (0.5, "50,00\u202f%", "50.00%"),
    (0.0, "0,00\u202f%", "0.00%"),
])
def test_percentages(ratio: float, fr: str, en: str) -> None:
    assert format_percent(ratio, "fr") == fr
    assert format_percent(ratio, "en") == en


def test_labels_fill_their_placeholders_and_french_spaces_its_colons() -> None:
    assert label("affects", "en", names="Search") == "Affected components: Search"
    assert label("affects", "fr", names="Recherche") == "Composants concernés\u00a0: Recherche"
    assert colon("fr") == "\u00a0: " and colon("en") == ": "
