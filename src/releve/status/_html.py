"""The human page: one autoescaped Jinja2 template, inline CSS, no JavaScript, light and dark themes.

Everything shown is prepared here as plain strings in the page's language, so
the template only lays it out; Jinja2's autoescape handles operator text.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import jinja2

from releve.store import ComponentStatus, Impact, Incident, IncidentStatus

from ._i18n import (
    COMPONENT_STATUS,
    DESCRIPTIONS,
    IMPACT,
    INCIDENT_STATUS,
    LABELS,
    LANGUAGE_NAMES,
    colon,
    format_datetime,
    format_day,
    format_percent,
    label,
    pick,
)
from ._statuspage import iso
from ._view import ComponentView, DayView, View

# Colours per theme. Text colours reach 4.5:1 on `bg` and `surface`, and so does `on_status` on every
# status colour (the banner); uptime blocks, which are not text, reach 3:1 on `bg` (tests check all three).
THEMES: dict[str, dict[str, str]] = {
    "light": {
        "bg": "#ffffff", "surface": "#f6f8fa", "fg": "#1f2328", "muted": "#57606a", "link": "#0550ae",
        "border": "#d0d7de", "on_status": "#ffffff", "nodata": "#818b95",
        "operational": "#1a7f37", "under_maintenance": "#0969da", "degraded_performance": "#9a6700",
        "partial_outage": "#bc4c00", "major_outage": "#cf222e",
    },
    "dark": {
        "bg": "#0d1117", "surface": "#161b22", "fg": "#e6edf3", "muted": "#9198a1", "link": "#58a6ff",
        "border": "#3d444d", "on_status": "#0d1117", "nodata": "#656c76",
        "operational": "#3fb950", "under_maintenance": "#58a6ff", "degraded_performance": "#d29922",
        "partial_outage": "#db6d28", "major_outage": "#f85149",
    },
}
TEXT_COLOURS = ("fg", "muted", "link", *(status.value for status in ComponentStatus))
# The banner's colour for each page indicator.
INDICATOR_COLOUR = {"none": "operational", "maintenance": "under_maintenance", "minor": "degraded_performance",
                    "major": "partial_outage", "critical": "major_outage"}


class HtmlRenderer:
    """Holds the Jinja2 environment (built once, on first use) and the stylesheet's CSP hash."""

    def __init__(self) -> None:
        self._env: jinja2.Environment | None = None
        self._css: tuple[str, str] | None = None

    def _environment(self) -> jinja2.Environment:
        if self._env is None:
            self._env = jinja2.Environment(loader=jinja2.PackageLoader("releve.status", "templates"),
                                           autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                           undefined=jinja2.StrictUndefined)
        return self._env

    def stylesheet(self) -> tuple[str, str]:
        """The CSS and its `sha256-…` source for the Content-Security-Policy (no 'unsafe-inline' needed)."""
        if self._css is None:
            css = self._environment().get_template("style.css").render(themes=THEMES)
            digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
            self._css = (css, f"'sha256-{digest}'")
        return self._css

    def render(self, view: View, *, language: str, languages: list[str], title: str, root: str = "") -> str:
        """`root`: the ASGI root_path, so links work behind a proxy that mounts the app under a prefix."""
        css, _ = self.stylesheet()
        context = page_context(view, language=language, languages=languages, title=title, root=root)
        return self._environment().get_template("status.html").render(css=css, **context)

    def render_unavailable(self, *, language: str, title: str) -> str:
        css, _ = self.stylesheet()
        return self._environment().get_template("unavailable.html").render(
            css=css, lang=language, title=title, message=label("unavailable", language))


def page_context(view: View, *, language: str, languages: list[str], title: str, root: str = "") -> dict[str, Any]:
    """What the template shows, every string already in `language`."""
    names = view.names
    return {
        "lang": language,
        "title": title,
        "t": {key: texts[language] for key, texts in LABELS.items()},
        "switch": [{"lang": code, "name": LANGUAGE_NAMES[code], "href": f"?lang={code}", "current": code == language}
                   for code in languages] if len(languages) > 1 else [],
        "feed_url": f"{root}/history.atom?lang={language}",
        "api_url": f"{root}/api/v2/summary.json?lang={language}",
        "indicator": INDICATOR_COLOUR[view.indicator.value],
        "description": DESCRIPTIONS[view.description][language],
        "uptime": (f"{format_percent(view.uptime, language)} {label('uptime_90', language)}"
                   if view.uptime is not None else label("uptime_unknown", language)),
        "components": [_component(c, language) for c in view.components],
        "active": [_incident(i, language, names) for i in view.unresolved],
        "maintenances": [_incident(m, language, names) for m in (*view.active_maintenances, *view.upcoming)],
        "past": [_incident(i, language, names) for i in view.past],
        "updated": label("updated", language, at=format_datetime(view.updated_at, language)),
        "updated_iso": iso(view.updated_at),
    }


def _component(view: ComponentView, language: str) -> dict[str, Any]:
    component = view.component
    name = pick(component.name, language)
    return {
        "id": component.id,
        "name": name,
        "description": pick(component.description, language) if component.description is not None else "",
        "status": component.status.value,
        "status_label": COMPONENT_STATUS[component.status][language],
        "history_label": label("uptime_history", language, name=name),
        "uptime": (f"{format_percent(view.uptime, language)} {label('uptime_90', language)}"
                   if view.uptime is not None else label("uptime_unknown", language)),
        "days": [_day(day, language) for day in view.days],
    }


def _day(day: DayView, language: str) -> dict[str, str]:
    """A day's block: its colour class and its text alternative (`27 nov. 2026 : 99,92 %`)."""
    when = format_day(day.day, language)
    if day.uptime is None or day.worst is None:
        return {"css": "nodata", "text": f"{when}{colon(language)}{label('no_data', language)}"}
    text = f"{when}{colon(language)}{format_percent(day.uptime, language)}"
    if day.worst is not ComponentStatus.OPERATIONAL:
        text += f" ({COMPONENT_STATUS[day.worst][language].lower()})"
    return {"css": day.worst.value, "text": text}


def _incident(incident: Incident, language: str, names: dict[str, Any]) -> dict[str, Any]:
    affected = [pick(names[cid].name, language) for cid in incident.components if cid in names]
    details = [IMPACT[incident.impact][language]]
    if affected:
        details.append(label("affects", language, names=", ".join(affected)))
    window = ""
    if incident.scheduled_for is not None and incident.scheduled_until is not None:
        window = label("window", language, start=format_datetime(incident.scheduled_for, language),
                       end=format_datetime(incident.scheduled_until, language))
    resolved = ""
    if incident.resolved_at is not None and incident.status is not IncidentStatus.COMPLETED:
        resolved = label("resolved_at", language, at=format_datetime(incident.resolved_at, language))
    return {
        "id": incident.id,
        "name": pick(incident.name, language),
        "status": incident.status.value,
        "status_label": INCIDENT_STATUS[incident.status][language],
        "accent": INDICATOR_COLOUR[incident.impact.value] if incident.impact is not Impact.NONE else "none",
        "details": " · ".join(details),
        "window": window,
        "resolved": resolved,
        "updates": [{
            "status_label": INCIDENT_STATUS[update.status][language],
            "when": format_datetime(update.created_at, language),
            "iso": iso(update.created_at),
            "body": pick(update.body, language),
        } for update in incident.updates],
    }
