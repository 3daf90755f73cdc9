"""What notifications say: the webhook's JSON payload and the human text sent through Apprise.

Built from the store's values only, so that every channel tells the same story.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from releve.store import Impact, Incident, IncidentUpdate, NotificationEvent

__all__ = ["incident_url", "text_message", "webhook_payload"]

_LABELS = {
    "fr": {NotificationEvent.OPEN: "Incident", NotificationEvent.UPDATE: "Incident",
           NotificationEvent.RESOLVE: "Incident résolu", "maintenance": "Maintenance"},
    "en": {NotificationEvent.OPEN: "Incident", NotificationEvent.UPDATE: "Incident",
           NotificationEvent.RESOLVE: "Incident resolved", "maintenance": "Maintenance"},
}


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the millisecond: what JavaScript's Date and most parsers read."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def incident_url(public_url: str) -> str | None:
    """Where people read about incidents: the status page, when it has a public address."""
    return public_url.rstrip("/") + "/status" if public_url else None


def webhook_payload(event: NotificationEvent, incident: Incident, update: IncidentUpdate,
                    public_url: str) -> dict[str, Any]:
    return {
        "event": f"incident.{event.value}",
        "incident": {
            "id": incident.id,
            "name": {"fr": incident.name.fr, "en": incident.name.en},
            "status": incident.status.value,
            "impact": incident.impact.value,
            "components": list(incident.components),
            "created_at": _iso(incident.created_at),
            "started_at": _iso(incident.started_at),
            "resolved_at": _iso(incident.resolved_at),
            "scheduled_for": _iso(incident.scheduled_for),
            "scheduled_until": _iso(incident.scheduled_until),
            "detection_seconds": incident.detection_seconds,
            "recovery_seconds": incident.recovery_seconds,
            "url": incident_url(public_url),
        },
        "update": {
            "id": update.id,
            "status": update.status.value,
            "body": {"fr": update.body.fr, "en": update.body.en},
            "created_at": _iso(update.created_at),
        },
    }


def text_message(event: NotificationEvent, incident: Incident, update: IncidentUpdate, public_url: str,
                 languages: Sequence[str]) -> tuple[str, str]:
    """(title, body) for chat and mail: the title in the first language, the body in each, then the link.

    A text that reads the same in both languages is said once.
    """
    first = languages[0] if languages else "en"
    label = _LABELS.get(first, _LABELS["en"])["maintenance" if incident.impact is Impact.MAINTENANCE else event]
    colon = " :" if first == "fr" else ":"
    title = f"[Relève] {label}{colon} {incident.name.get(first)} — {update.status.value}"
    paragraphs: list[str] = []
    for language in languages or ("en",):
        text = update.body.get(language).strip()
        if text and text not in paragraphs:
            paragraphs.append(text)
    url = incident_url(public_url)
    if url:
        paragraphs.append(url)
    return title, "\n\n".join(paragraphs)
