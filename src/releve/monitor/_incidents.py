"""The life of an automatic incident: open, update as facts change, monitor after recovery, resolve.

One automatic incident at a time covers every public component that is not
operational; a component failing again while the incident is being
monitored reopens nothing, the same incident goes back to `identified`.
That, with the store's unique notification keys, is why a flapping provider
gives one open and one resolve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from releve.store import ComponentStatus, Impact, Incident, IncidentStatus, Store, Text

from ._messages import Situation, incident_name, recovered_body, resolved_body, situation_body

__all__ = ["IncidentKeeper", "impact_of"]

logger = logging.getLogger("releve.monitor")

_IMPACT = {
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
_IMPACT_RANK = [Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL]


def impact_of(status: ComponentStatus) -> Impact:
    return _IMPACT.get(status, Impact.NONE)


class IncidentKeeper:
    def __init__(self, store: Store, channels: Sequence[str], resolve_after: float,
                 notify: Callable[[], None] = lambda: None,
                 audit: Callable[[str, str, dict[str, Any]], None] = lambda kind, actor, data: None) -> None:
        self._audit = audit
        self._store = store
        self._channels = tuple(channels)
        self._resolve_after = resolve_after
        self._notify = notify
        self.current: Incident | None = None
        self._last_facts: tuple[object, ...] | None = None
        self._impact = Impact.NONE
        self._components: list[str] = []
        self._names: dict[str, Text] = {}
        self._ok_since: datetime | None = None

    async def resume(self) -> None:
        """Carry on with an automatic incident left open by an earlier run, rather than opening a second."""
        open_ones = await asyncio.to_thread(self._store.incidents, unresolved=True, maintenance=False, limit=20)
        automatic = [incident for incident in open_ones if incident.automatic]
        if automatic:
            self._adopt(automatic[0])
            logger.info("continuing automatic incident %s", automatic[0].id)

    def _adopt(self, incident: Incident) -> None:
        self.current = incident
        self._impact = incident.impact
        self._components = list(incident.components)
        self._last_facts = None

    async def observe(self, situation: Situation, started_at: datetime | None, now: datetime) -> None:
        for component_id, name, _ in situation.affected:
            self._names[component_id] = name
        if situation.affected:
            await self._failing(situation, started_at, now)
        elif self.current is not None:
            await self._recovered(now)

    async def _failing(self, situation: Situation, started_at: datetime | None, now: datetime) -> None:
        self._ok_since = None
        affected = [(component_id, status) for component_id, _, status in situation.affected]
        body = situation_body(situation)
        # A target wavering between partial and major outage is not news; a change of what customers
        # see, of which providers fail, or of where traffic goes is.
        facts = (situation.affected, tuple(label for label, _ in situation.failing), situation.moved,
                 situation.stopped, situation.feeds)
        impact = impact_of(situation.worst)
        if self.current is None:
            self._impact = impact
            self._components = [component_id for component_id, _ in affected]
            self.current = await asyncio.to_thread(
                self._store.open_incident, name=incident_name(situation), body=body, impact=impact,
                components=self._components, affected=affected, at=now, automatic=True, started_at=started_at,
                channels=self._channels)
            self._last_facts = facts
            logger.warning("incident %s opened: %s", self.current.id, self.current.name.en)
            self._audit("incident", "monitor", {"incident": self.current.id, "status": "investigating",
                                                "components": list(self._components)})
            self._notify()
            return
        reopened = self.current.status is IncidentStatus.MONITORING
        if not reopened and facts == self._last_facts:
            return
        self._last_facts = facts
        for component_id, _ in affected:
            if component_id not in self._components:
                self._components.append(component_id)
        if _IMPACT_RANK.index(impact) > _IMPACT_RANK.index(self._impact):
            self._impact = impact
        await self._update(IncidentStatus.IDENTIFIED, body, now, affected)

    async def _recovered(self, now: datetime) -> None:
        assert self.current is not None
        if self.current.status is not IncidentStatus.MONITORING:
            self._ok_since = now
            names = [self._names.get(c, Text(c, c)) for c in self._components]
            affected = [(c, ComponentStatus.OPERATIONAL) for c in self._components]
            await self._update(IncidentStatus.MONITORING, recovered_body(names), now, affected)
            return
        if self._ok_since is None:
            self._ok_since = now
        if (now - self._ok_since).total_seconds() < self._resolve_after:
            return
        started = self.current.started_at or self.current.created_at
        lasted = (self._ok_since - started).total_seconds()
        await self._update(IncidentStatus.RESOLVED, resolved_body(lasted), now, (), recovered_at=self._ok_since)
        logger.warning("incident %s resolved", self.current.id)
        self.current = None
        self._last_facts = None

    async def _update(self, status: IncidentStatus, body: Text, now: datetime,
                      affected: Sequence[tuple[str, ComponentStatus]], recovered_at: datetime | None = None) -> None:
        assert self.current is not None
        incident_id = self.current.id
        self._audit("incident", "monitor", {"incident": incident_id, "status": status.value})
        await asyncio.to_thread(
            self._store.add_update, incident_id, status=status, body=body, at=now, affected=affected,
            impact=self._impact, components=self._components, recovered_at=recovered_at, channels=self._channels)
        fresh = await asyncio.to_thread(self._store.incident, incident_id)
        if fresh is not None and not fresh.status.closed:
            self.current = fresh
        self._notify()
