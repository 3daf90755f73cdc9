"""Every word the status page says, in French and English, and the few formats it needs.

A dict and three small formatters instead of gettext and Babel: two languages,
a few dozen strings, and dates always in UTC do not need a catalogue toolchain.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from releve.store import (
    COMPONENT_STATUS_WORDS,
    IMPACT_WORDS,
    INCIDENT_STATUS_WORDS,
    ComponentStatus,
    Impact,
    IncidentStatus,
)

LANGUAGES = ("fr", "en")
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}

# Statuspage's top-level descriptions (its English wording, so widgets that match on it keep working).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "all_operational": {"fr": "Tous les systèmes sont opérationnels", "en": "All Systems Operational"},
    "major_system_outage": {"fr": "Panne majeure du système", "en": "Major System Outage"},
    "partial_system_outage": {"fr": "Panne partielle du système", "en": "Partial System Outage"},
    "minor_service_outage": {"fr": "Panne mineure du service", "en": "Minor Service Outage"},
    "degraded_system_service": {"fr": "Service dégradé", "en": "Degraded System Service"},
    "partially_degraded_service": {"fr": "Service partiellement dégradé", "en": "Partially Degraded Service"},
    "service_under_maintenance": {"fr": "Service en maintenance", "en": "Service Under Maintenance"},
}

COMPONENT_STATUS: dict[ComponentStatus, dict[str, str]] = {
    status: {"fr": words.fr, "en": words.en} for status, words in COMPONENT_STATUS_WORDS.items()}
INCIDENT_STATUS: dict[IncidentStatus, dict[str, str]] = {
    status: {"fr": words.fr, "en": words.en} for status, words in INCIDENT_STATUS_WORDS.items()}
IMPACT: dict[Impact, dict[str, str]] = {
    impact: {"fr": words.fr, "en": words.en} for impact, words in IMPACT_WORDS.items()}

LABELS: dict[str, dict[str, str]] = {
    "skip": {"fr": "Aller au contenu", "en": "Skip to content"},
    "language": {"fr": "Langue", "en": "Language"},
    "active_incidents": {"fr": "Incidents en cours", "en": "Active incidents"},
    "maintenance": {"fr": "Maintenances", "en": "Maintenance"},
    "components": {"fr": "Composants", "en": "Components"},
    "past_incidents": {"fr": "Incidents des 14 derniers jours", "en": "Past incidents (last 14 days)"},
    "no_past_incidents": {"fr": "Aucun incident signalé ces 14 derniers jours.",
                          "en": "No incidents reported in the last 14 days."},
    "no_components": {"fr": "Aucun composant n’est suivi pour l’instant.", "en": "No components are monitored yet."},
    "uptime_90": {"fr": "de disponibilité sur 90 jours", "en": "uptime over 90 days"},
    "uptime_unknown": {"fr": "Disponibilité sur 90 jours\u00a0: pas encore de données",
                       "en": "90-day uptime: no data yet"},
    "uptime_history": {"fr": "Historique de disponibilité sur 90 jours de {name}",
                       "en": "90-day uptime history of {name}"},
    "no_data": {"fr": "pas de données", "en": "no data"},
    "days_ago": {"fr": "Il y a 90 jours", "en": "90 days ago"},
    "today": {"fr": "Aujourd’hui", "en": "Today"},
    "status": {"fr": "État", "en": "Status"},
    "updates": {"fr": "Mises à jour", "en": "Updates"},
    "window": {"fr": "Du {start} au {end}", "en": "From {start} to {end}"},
    "affects": {"fr": "Composants concernés\u00a0: {names}", "en": "Affected components: {names}"},
    "resolved_at": {"fr": "Résolu le {at}", "en": "Resolved on {at}"},
    "updated": {"fr": "Mis à jour le {at}", "en": "Updated {at}"},
    "times_utc": {"fr": "Heures en UTC.", "en": "Times are in UTC."},
    "feed": {"fr": "Flux Atom des incidents", "en": "Incident feed (Atom)"},
    "api": {"fr": "API JSON (format Statuspage)", "en": "JSON API (Statuspage format)"},
    "powered": {"fr": "Propulsé par Relève", "en": "Powered by Relève"},
    "unavailable": {"fr": "L’état des services est momentanément indisponible. Réessayez dans un instant.",
                    "en": "The service status is unavailable for a moment. Please try again shortly."},
    "feed_title": {"fr": "{title}\u00a0: historique des incidents", "en": "{title}: incident history"},
}

_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_NBSP = "\u00a0"          # before the French colon
_NNBSP = "\u202f"         # before the French percent sign


class Bilingual(Protocol):
    """`Text` from the store and `BilingualText` from the config: both have `fr` and `en`."""

    @property
    def fr(self) -> str: ...

    @property
    def en(self) -> str: ...


def pick(text: Bilingual, language: str) -> str:
    return text.fr if language == "fr" else text.en


def label(key: str, language: str, **values: str) -> str:
    text = LABELS[key][language]
    return text.format(**values) if values else text


def colon(language: str) -> str:
    """French puts a no-break space before a colon; English does not."""
    return f"{_NBSP}: " if language == "fr" else ": "


def format_day(day: date, language: str) -> str:
    """`27 nov. 2026` / `Nov 27, 2026`."""
    month = _MONTHS[language][day.month - 1]
    return f"{day.day} {month} {day.year}" if language == "fr" else f"{month} {day.day}, {day.year}"


def format_datetime(moment: datetime, language: str) -> str:
    """A moment in UTC, to the minute: `27 nov. 2026, 14:05 UTC` / `Nov 27, 2026, 14:05 UTC`."""
    utc = moment.astimezone(UTC)
    return f"{format_day(utc.date(), language)}, {utc:%H:%M} UTC"


def format_percent(ratio: float, language: str) -> str:
    """Two decimals, rounded down so that 99.999 % never shows as a perfect 100 %."""
    hundredths = int(ratio * 10000 + 1e-9)
    text = f"{hundredths // 100}.{hundredths % 100:02d}"
    return f"{text.replace('.', ',')}{_NNBSP}%" if language == "fr" else f"{text}%"


def negotiate(query_lang: str | None, accept_language: str | None, languages: list[str]) -> str:
    """`?lang=` if configured, else the best Accept-Language match (q-values honoured), else the first configured."""
    if query_lang is not None and query_lang.lower() in languages:
        return query_lang.lower()
    if accept_language:
        for tag in _ranked(accept_language):
            if tag == "*":
                return languages[0]
            primary = tag.split("-", 1)[0]
            if primary in languages:
                return primary
    return languages[0]


def _ranked(header: str) -> list[str]:
    """Language ranges by descending q, ties in header order; q=0 means "not this one"."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                quality = min(max(quality, 0.0), 1.0)
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]

