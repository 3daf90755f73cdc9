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
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from releve.errors import StoreError
from releve.store import ComponentStatus, Impact, Incident, IncidentStatus, Store, Text

from ._messages import Situation, incident_name, recovered_body, resolved_body, situation_body

__all__ = ["IncidentKeeper", "impact_of"]

logger = logging.getLogger("releve.monitor")

_T = TypeVar("_T")

_IMPACT = {
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
_IMPACT_RANK = [Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL]


def impact_of(status: ComponentStatus) -> Impact:
    return _IMPACT.get(status, Impact.NONE)


class IncidentKeeper:
    """Decides the automatic incident's writes from each tick's `Situation`.

    A write that fails (store unreachable, or `fence` refusing: this process
    is no longer the lead) raises `StoreError` and changes nothing here, so the
    next tick, which recomputes the situation, makes the same decision again.
    """

    def __init__(self, store: Store, channels: Sequence[str], resolve_after: float,
                 notify: Callable[[], None] = lambda: None,
                 audit: Callable[[str, str, dict[str, Any]], None] = lambda kind, actor, data: None,
                 fence: Callable[[], tuple[str, int] | None] | None = None) -> None:
        self._audit = audit
        self._store = store
        self._channels = tuple(channels)
        self._resolve_after = resolve_after
        self._notify = notify
        self._fence = fence
        self.current: Incident | None = None
        self._last_facts: tuple[object, ...] | None = None
        self._impact = Impact.NONE
        self._components: list[str] = []
        self._names: dict[str, Text] = {}
        self._ok_since: datetime | None = None
        self._unsure = False     # an open failed: it may have been committed all the same

    def _forget(self) -> None:
        self.current = None
        self._last_facts = None
        self._impact = Impact.NONE
        self._components = []
        self._ok_since = None

    async def resume(self) -> None:
        """Carry on with an automatic incident left open by an earlier run (or lead), rather than opening a second."""
        open_ones = await asyncio.to_thread(self._store.incidents, unresolved=True, maintenance=False, limit=20)
        automatic = [incident for incident in open_ones if incident.automatic]
        self._unsure = False
        if not automatic:
            self._forget()
        elif self.current is None or self.current.id != automatic[0].id:
            self._adopt(automatic[0])
            logger.info("continuing automatic incident %s", automatic[0].id)

    def _adopt(self, incident: Incident) -> None:
        self.current = incident
        self._impact = incident.impact
        self._components = list(incident.components)
        self._last_facts = None
        self._ok_since = None

    def _write(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """In the worker thread: the lead check comes immediately before the write it guards, and the lease's
        fencing token it returns goes with the write, which the store refuses if the lease changed hands."""
        if self._fence is not None:
            token = self._fence()
            if token is not None:
                kwargs["fence"] = token
        return call(*args, **kwargs)

    def note(self, situation: Situation, now: datetime) -> None:
        """What a tick saw, kept even when its writes must wait for the store: when the recovery began."""
        for component_id, name, _ in situation.affected:
            self._names[component_id] = name
        if situation.affected:
            self._ok_since = None
        elif self.current is not None and self._ok_since is None:
            self._ok_since = now

    async def observe(self, situation: Situation, started_at: datetime | None, now: datetime) -> None:
        """Raises `StoreError` when a write failed; the next call retries it."""
        self.note(situation, now)
        if situation.affected:
            await self._failing(situation, started_at, now)
        elif self.current is not None:
            await self._recovered(now)

    async def _failing(self, situation: Situation, started_at: datetime | None, now: datetime) -> None:
        affected = [(component_id, status) for component_id, _, status in situation.affected]
        body = situation_body(situation)
        # A target wavering between partial and major outage is not news; a change of what customers
        # see, of which providers fail, or of where traffic goes is.
        facts = (situation.affected, tuple(label for label, _ in situation.failing), situation.moved,
                 situation.stopped, situation.feeds)
        impact = impact_of(situation.worst)
        if self.current is None and self._unsure:
            await self.resume()   # the failed open may have been committed: never open a second incident
        if self.current is None:
            components = [component_id for component_id, _ in affected]
            try:
                opened = await asyncio.to_thread(
                    self._write, self._store.open_incident, name=incident_name(situation), body=body,
                    impact=impact, components=components, affected=affected, at=now, automatic=True,
                    started_at=started_at, channels=self._channels)
            except StoreError:
                self._unsure = True
                raise
            self.current = opened
            self._impact = impact
            self._components = components
            self._last_facts = facts
            logger.warning("incident %s opened: %s", opened.id, opened.name.en)
            self._audit("incident", "monitor", {"incident": opened.id, "status": "investigating",
                                                "components": list(components)})
            self._notify()
            return
        reopened = self.current.status is IncidentStatus.MONITORING
        if not reopened and facts == self._last_facts:
            return
        for component_id, _ in affected:
            if component_id not in self._components:
                self._components.append(component_id)
        if _IMPACT_RANK.index(impact) > _IMPACT_RANK.index(self._impact):
            self._impact = impact
        if await self._update(IncidentStatus.IDENTIFIED, body, now, affected):
            self._last_facts = facts   # only once written: a failed update is tried again at the next tick

    async def _recovered(self, now: datetime) -> None:
        assert self.current is not None and self._ok_since is not None
        if self.current.status is not IncidentStatus.MONITORING:
            names = [self._names.get(c, Text(c, c)) for c in self._components]
            affected = [(c, ComponentStatus.OPERATIONAL) for c in self._components]
            await self._update(IncidentStatus.MONITORING, recovered_body(names), now, affected)
            return
        if (now - self._ok_since).total_seconds() < self._resolve_after:
            return
        incident_id = self.current.id
        started = self.current.started_at or self.current.created_at
        lasted = (self._ok_since - started).total_seconds()
        if await self._update(IncidentStatus.RESOLVED, resolved_body(lasted), now, (), recovered_at=self._ok_since):
            logger.warning("incident %s resolved", incident_id)
        self._forget()

    async def _update(self, status: IncidentStatus, body: Text, now: datetime,
                      affected: Sequence[tuple[str, ComponentStatus]], recovered_at: datetime | None = None) -> bool:
        """False when the incident turned out to be closed already (by a person, or by our own lost reply)."""
        assert self.current is not None
        incident_id = self.current.id
        try:
            await asyncio.to_thread(
                self._write, self._store.add_update, incident_id, status=status, body=body, at=now,
                affected=affected, impact=self._impact, components=self._components, recovered_at=recovered_at,
                channels=self._channels)
        except StoreError:
            if not await self._closed_elsewhere(incident_id):
                raise
            logger.warning("incident %s was closed outside the monitor: a new one opens if the failure goes on",
                           incident_id)
            self._forget()
            return False
        self._audit("incident", "monitor", {"incident": incident_id, "status": status.value})
        self._notify()
        try:
            fresh = await asyncio.to_thread(self._store.incident, incident_id)
        except StoreError:
            fresh = replace(self.current, status=status, updated_at=now)   # written; only the re-read failed
        if fresh is not None and not fresh.status.closed:
            self.current = fresh
        return True

    async def _closed_elsewhere(self, incident_id: str) -> bool:
        """After a refused update: True only when the store answers that the incident is gone or closed."""
        try:
            found = await asyncio.to_thread(self._store.incident, incident_id)
        except StoreError:
            return False
        return found is None or found.status.closed
