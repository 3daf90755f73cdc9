"""The public JSON API in Atlassian Statuspage's v2 shapes, so existing widgets and tools read it unchanged.

Pure functions from the view to plain dicts: field names, order and values
are Statuspage's (`/api/v2/summary.json` and friends). Relève's component ids
("process:support") stand where Statuspage has its 12-character ids; texts
are in the one language the request asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from releve.store import Component, ComponentStatus, Impact, Incident, IncidentStatus

from ._i18n import DESCRIPTIONS, pick
from ._view import View

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PageInfo:
    """Who is speaking: Statuspage's `page` object, per request (its name and url depend on it)."""

    id: str
    name: str
    url: str
    updated_at: datetime


def page_id(public_url: str) -> str:
    """A stable 12-character id like Statuspage's, derived from the page's address."""
    digest = hashlib.sha256((public_url or "releve").encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(digest[:8])
    chars = []
    for _ in range(12):
        number, index = divmod(number, 36)
        chars.append(alphabet[index])
    return "".join(chars)


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: datetime | None) -> str | None: ...


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and `Z`, as Statuspage writes its times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_json(page: PageInfo) -> JsonObject:
    return {"id": page.id, "name": page.name, "url": page.url, "time_zone": "Etc/UTC",
            "updated_at": iso(page.updated_at)}


def status_json(indicator: Impact, description: str, language: str) -> JsonObject:
    return {"indicator": indicator.value, "description": DESCRIPTIONS[description][language]}


def component_json(component: Component, page: PageInfo, language: str) -> JsonObject:
    """One component. The store keeps no creation time, so `created_at` is its last change."""
    description = pick(component.description, language) if component.description is not None else None
    return {
        "id": component.id,
        "name": pick(component.name, language),
        "status": component.status.value,
        "created_at": iso(component.updated_at),
        "updated_at": iso(component.updated_at),
        "position": component.position,
        "description": description,
        "showcase": True,
        "start_date": None,
        "group_id": None,
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": False,
    }


def incident_json(incident: Incident, page: PageInfo, language: str, shown: Mapping[str, Component]) -> JsonObject:
    """One incident with its updates (newest first). Components not on the page are left out of it."""
    monitoring = [u.created_at for u in incident.updates if u.status is IncidentStatus.MONITORING]
    document: JsonObject = {
        "id": incident.id,
        "name": pick(incident.name, language),
        "status": incident.status.value,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(max(monitoring)) if monitoring else None,
        "resolved_at": iso(incident.resolved_at),
        "impact": incident.impact.value,
        "shortlink": f"{page.url}#incident-{incident.id}",
        "started_at": iso(incident.started_at or incident.created_at),
        "page_id": page.id,
        "incident_updates": _updates_json(incident, language, shown),
        "components": [component_json(shown[cid], page, language) for cid in incident.components if cid in shown],
    }
    if incident.is_maintenance:
        document["scheduled_for"] = iso(incident.scheduled_for)
        document["scheduled_until"] = iso(incident.scheduled_until)
    return document


def _updates_json(incident: Incident, language: str, shown: Mapping[str, Component]) -> list[JsonObject]:
    """Updates newest first; `affected_components` tells each change from the component's previous status."""
    last: dict[str, ComponentStatus] = {}
    changes: dict[str, list[JsonObject] | None] = {}
    for update in reversed(incident.updates):   # oldest first, to know each component's previous status
        affected = []
        for component_id, status in update.affected:
            old = last.get(component_id, ComponentStatus.OPERATIONAL)
            last[component_id] = status
            if component_id in shown:
                affected.append({"code": component_id, "name": pick(shown[component_id].name, language),
                                 "old_status": old.value, "new_status": status.value})
        changes[update.id] = affected or None
    return [{
        "id": update.id,
        "status": update.status.value,
        "body": pick(update.body, language),
        "incident_id": incident.id,
        "created_at": iso(update.created_at),
        "updated_at": iso(update.created_at),
        "display_at": iso(update.created_at),
        "affected_components": changes[update.id],
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    } for update in incident.updates]


def _components(view: View, page: PageInfo, language: str) -> list[JsonObject]:
    return [component_json(c.component, page, language) for c in view.components]


def _incidents(incidents: tuple[Incident, ...], view: View, page: PageInfo, language: str) -> list[JsonObject]:
    shown = view.names
    return [incident_json(incident, page, language, shown) for incident in incidents]


def summary(view: View, page: PageInfo, language: str) -> JsonObject:
    """Components, unresolved incidents, upcoming or ongoing maintenance, and the page status."""
    ongoing = tuple(m for m in view.maintenances if not m.status.closed)
    return {
        "page": page_json(page),
        "components": _components(view, page, language),
        "incidents": _incidents(view.unresolved, view, page, language),
        "scheduled_maintenances": _incidents(ongoing, view, page, language),
        "status": status_json(view.indicator, view.description, language),
    }


def status(view: View, page: PageInfo, language: str) -> JsonObject:
    return {"page": page_json(page), "status": status_json(view.indicator, view.description, language)}


def components(view: View, page: PageInfo, language: str) -> JsonObject:
    return {"page": page_json(page), "components": _components(view, page, language)}


def incidents(view: View, page: PageInfo, language: str) -> JsonObject:
    """The last 50 incidents, whatever their status (maintenance windows have their own endpoints)."""
    return {"page": page_json(page), "incidents": _incidents(view.incidents, view, page, language)}


def unresolved(view: View, page: PageInfo, language: str) -> JsonObject:
    return {"page": page_json(page), "incidents": _incidents(view.unresolved, view, page, language)}


def maintenances(view: View, page: PageInfo, language: str) -> JsonObject:
    return {"page": page_json(page), "scheduled_maintenances": _incidents(view.maintenances, view, page, language)}


def upcoming(view: View, page: PageInfo, language: str) -> JsonObject:
    """Windows still `scheduled`."""
    return {"page": page_json(page), "scheduled_maintenances": _incidents(view.upcoming, view, page, language)}


def active(view: View, page: PageInfo, language: str) -> JsonObject:
    """Windows `in_progress` or `verifying`."""
    return {"page": page_json(page),
            "scheduled_maintenances": _incidents(view.active_maintenances, view, page, language)}


DOCUMENTS = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved,
    "scheduled-maintenances.json": maintenances,
    "scheduled-maintenances/upcoming.json": upcoming,
    "scheduled-maintenances/active.json": active,
}
