"""Incidents by hand: the checks shared by the admin API and `releve incident`, and the admin API itself.

People know things the monitor cannot (a planned migration, a provider's
phone call): they open incidents, post updates, resolve and schedule
maintenance. The admin API takes the keys in `admins:`, never client keys,
so an application that may call models may not write on the status page.

Drills inject faults here too (`/admin/faults`): the gateway acts out a
provider's outage for a bounded time (see `gateway/_faults.py`). The fault
table is this process's own: with `server.workers > 1` a call reaches one
worker, so game days run with `workers: 1`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from releve.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, send_bytes
from releve.config import Config
from releve.errors import InvalidRequest, StoreError, Unauthorized
from releve.gateway import ClientAuth, FaultTable, parse_fault
from releve.impact import IncidentCost, incident_costs
from releve.store import Impact, Incident, IncidentStatus, Store, Text

__all__ = ["AdminApi", "component_ids", "cost_json", "incident_json", "parse_components", "parse_time", "parse_text"]

logger = logging.getLogger("releve.admin")
_PREFIX = "/admin/incidents"
_FAULTS = "/admin/faults"
_MANUAL_STATUSES = {IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING,
                    IncidentStatus.RESOLVED}
_IMPACTS = {Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL}


def component_ids(config: Config) -> dict[str, str]:
    """Every name a person may use for a component -> its id: `support`, `process:support`, `route:chat`…"""
    names: dict[str, str] = {}
    for route in config.routes:
        names[f"route:{route}"] = names[route] = f"route:{route}"
        for target in config.routes[route].targets:
            label = f"{target.provider}/{target.model}"
            names[f"target:{label}"] = names[label] = f"target:{label}"
    for process in config.processes:
        names[f"process:{process}"] = names[process] = f"process:{process}"  # a process wins over a route
    return names


def parse_text(value: Any, field: str) -> Text:
    """A string (said the same in both languages) or {"fr": ..., "en": ...}."""
    if isinstance(value, str) and value.strip():
        return Text(value.strip(), value.strip())
    if isinstance(value, Mapping) and set(value) == {"fr", "en"} and all(
            isinstance(v, str) and v.strip() for v in value.values()):
        return Text(value["fr"].strip(), value["en"].strip())
    raise InvalidRequest(f"'{field}' must be a non-empty string or {{\"fr\": \"...\", \"en\": \"...\"}}",
                         code="invalid_field")


def parse_components(values: Any, known: Mapping[str, str]) -> list[str]:
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise InvalidRequest("'components' must be a non-empty list of process or route names", code="invalid_field")
    unknown = [v for v in values if v not in known]
    if unknown:
        choices = ", ".join(sorted(n for n in known if ":" not in n))
        raise InvalidRequest(f"unknown component {unknown[0]!r} (known: {choices})", code="unknown_component")
    return list(dict.fromkeys(known[v] for v in values))


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidRequest(f"'{field}' must be an ISO 8601 time, e.g. 2026-12-01T22:00:00Z", code="invalid_field")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id, "name": {"fr": incident.name.fr, "en": incident.name.en},
        "status": incident.status.value, "impact": incident.impact.value, "automatic": incident.automatic,
        "components": list(incident.components), "created_at": _iso(incident.created_at),
        "started_at": _iso(incident.started_at), "recovered_at": _iso(incident.recovered_at),
        "resolved_at": _iso(incident.resolved_at), "scheduled_for": _iso(incident.scheduled_for),
        "scheduled_until": _iso(incident.scheduled_until),
        "detection_seconds": incident.detection_seconds, "recovery_seconds": incident.recovery_seconds,
        "updates": [{"id": u.id, "status": u.status.value, "body": {"fr": u.body.fr, "en": u.body.en},
                     "created_at": _iso(u.created_at)} for u in incident.updates],
    }


def cost_json(cost: IncidentCost, currency: str) -> dict[str, Any]:
    """The cost so far, per process, with the counts it comes from."""
    return {
        "currency": currency, "loss": round(cost.loss, 2), "avoided": round(cost.avoided, 2),
        "processes": {
            item.process: {
                "productivity_loss": round(item.productivity_loss, 2), "revenue_loss": round(item.revenue_loss, 2),
                "avoided_productivity": round(item.avoided_productivity, 2),
                "avoided_revenue": round(item.avoided_revenue, 2), "lost_hours": round(item.lost_hours, 6),
                "saved_hours": round(item.saved_hours, 6), "availability": round(item.availability, 6),
                "requests": {"served": item.counts.served, "fallback": item.counts.fallback,
                             "degraded": item.counts.degraded, "deferred": item.counts.deferred,
                             "failed": item.counts.failed},
                "from": _iso(item.start), "to": _iso(item.end),
            } for item in cost.processes},
    }


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("the body must be a JSON object", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object", code="invalid_json")
    return data


def _only(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(allowed))})",
                             code="unknown_field")


def _status(value: Any, allowed: set[IncidentStatus], default: IncidentStatus) -> IncidentStatus:
    if value is None:
        return default
    try:
        status = IncidentStatus(value)
    except ValueError:
        status = None
    if status not in allowed:
        raise InvalidRequest(f"'status' must be one of {', '.join(sorted(s.value for s in allowed))}",
                             code="invalid_field")
    assert status is not None
    return status


class AdminApi:
    """`/admin/incidents…` over HTTP; every write goes through the store, so the CLI and the API agree."""

    def __init__(self, config: Config, store: Store, channels: Sequence[str], *, wake: Callable[[], None],
                 now: Callable[[], datetime],
                 audit: Callable[[str, str, dict[str, Any]], None] = lambda kind, actor, data: None,
                 faults: FaultTable | None = None) -> None:
        self._audit = audit
        self._faults = faults
        self._store = store
        self._channels = tuple(channels)
        self._wake = wake
        self._now = now
        self._config = config
        self._known = component_ids(config)
        self._targets = {f"{t.provider}/{t.model}" for route in config.routes.values() for t in route.targets}
        self._regions = {p.region for p in config.providers.values() if p.region}
        self._auth = ClientAuth(config.admins, required=True) if config.admins else None
        self._open = not config.admins and config.auth.value == "none"

    def handles(self, path: str) -> bool:
        return path in ("/admin/maintenances", _PREFIX, _FAULTS) or path.startswith((_PREFIX + "/", _FAULTS + "/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            actor = f"admin:{self._authorize(scope) or 'open'}"
            if scope["path"].startswith(_FAULTS):
                status, payload = await self._fault_call(scope, receive, actor)
            else:
                status, payload = await self._dispatch(scope, receive)
                if scope["method"] == "POST" and status < 300 and isinstance(payload, dict):
                    self._audit("incident", actor, {"path": scope["path"], "incident": payload.get("id"),
                                                    "status": payload.get("status")})
        except Unauthorized as exc:
            status, payload = 401, _error(str(exc), "unauthorized")
        except InvalidRequest as exc:
            status, payload = exc.status, _error(str(exc), exc.code or "invalid_request")
        except StoreError as exc:
            status, payload = 409, _error(str(exc), "conflict")
        await send_bytes(send, status, orjson.dumps(payload), JSON_HEADERS)

    def _authorize(self, scope: Scope) -> str | None:
        """The admin's name (None when the API is open under auth: none); raises Unauthorized."""
        if self._open:
            return None
        if self._auth is None:
            raise Unauthorized("The admin API is disabled: add a key under 'admins:' in releve.yaml.")
        return self._auth.authenticate(scope["headers"])

    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path in (_PREFIX, "/admin/maintenances") and method == "GET":
            return 200, {"incidents": await asyncio.to_thread(self._listing, maintenance=path != _PREFIX)}
        if method != "POST":
            raise InvalidRequest(f"{path} accepts POST (and GET on the collections)", status=405,
                                 code="method_not_allowed")
        data = _object(await read_body(scope, receive, 256 * 1024))
        if path == _PREFIX:
            incident = await asyncio.to_thread(self._open_incident, data)
            return 201, incident_json(incident)
        if path == "/admin/maintenances":
            incident = await asyncio.to_thread(self._schedule, data)
            return 201, incident_json(incident)
        rest = path[len(_PREFIX) + 1:].split("/")
        if len(rest) == 2 and rest[1] in ("updates", "resolve"):
            incident = await asyncio.to_thread(self._update, rest[0], data, resolve=rest[1] == "resolve")
            return 200, incident_json(incident)
        raise InvalidRequest(f"No admin endpoint at {path}.", status=404, code="not_found")

    async def _fault_call(self, scope: Scope, receive: Receive, actor: str) -> tuple[int, Any]:
        """`POST /admin/faults`, `GET /admin/faults`, `DELETE /admin/faults/{id}`; each change is audited."""
        faults = self._faults
        if faults is None:
            raise InvalidRequest("This gateway has no fault table.", status=404, code="not_found")
        path, method = scope["path"].rstrip("/"), scope["method"]
        process = os.getpid()  # which worker answered: each has its own faults
        if path == _FAULTS and method == "GET":
            now = faults.now
            return 200, {"faults": [fault.to_json(hits, now) for fault, hits in faults.faults()], "process": process}
        if path == _FAULTS and method == "POST":
            spec = parse_fault(_object(await read_body(scope, receive, 64 * 1024)), targets=self._targets,
                               providers=self._config.providers.keys(), regions=self._regions)
            fault = faults.add(spec)
            self._audit("fault", actor, {"action": "inject", "fault": fault.id, **spec.to_json()})
            return 201, {**fault.to_json(0, faults.now), "process": process}
        fault_id = path[len(_FAULTS) + 1:]
        if fault_id and "/" not in fault_id and method == "DELETE":
            removed = faults.remove(fault_id)
            if removed is None:
                raise InvalidRequest(f"no fault {fault_id!r} in this process (expired, removed, or set on another "
                                     "worker or replica without shared_state)", status=404, code="not_found")
            fault, hits = removed
            self._audit("fault", actor, {"action": "remove", "fault": fault.id, "hits": hits})
            return 200, {**fault.to_json(hits), "removed": True, "process": process}
        if path == _FAULTS or fault_id and "/" not in fault_id:
            allowed = "GET and POST" if path == _FAULTS else "DELETE"
            raise InvalidRequest(f"{path} accepts {allowed}", status=405, code="method_not_allowed")
        raise InvalidRequest(f"No admin endpoint at {path}.", status=404, code="not_found")

    def _listing(self, *, maintenance: bool) -> list[dict[str, Any]]:
        """Incidents newest first; open ones carry their cost so far."""
        now = self._now()
        listed = []
        for incident in self._store.incidents(limit=100, maintenance=maintenance):
            item = incident_json(incident)
            if not maintenance and not incident.status.closed:
                item["cost"] = cost_json(incident_costs(self._store, self._config, incident, now),
                                         self._config.currency)
            listed.append(item)
        return listed

    def _open_incident(self, data: dict[str, Any]) -> Incident:
        _only(data, ("name", "message", "components", "status", "impact"))
        impact_value = data.get("impact", "major")
        if impact_value not in {i.value for i in _IMPACTS}:
            raise InvalidRequest("'impact' must be one of none, minor, major, critical", code="invalid_field")
        incident = self._store.open_incident(
            name=parse_text(data.get("name"), "name"), body=parse_text(data.get("message"), "message"),
            impact=Impact(impact_value), components=parse_components(data.get("components"), self._known),
            affected=(), at=self._now(), automatic=False,
            status=_status(data.get("status"), _MANUAL_STATUSES - {IncidentStatus.RESOLVED},
                           IncidentStatus.INVESTIGATING), channels=self._channels)
        logger.warning("incident %s opened by hand: %s", incident.id, incident.name.en)
        self._wake()
        return incident

    def _update(self, incident_id: str, data: dict[str, Any], *, resolve: bool) -> Incident:
        _only(data, ("message", "status"))
        current = self._store.incident(incident_id)
        if current is None:
            raise InvalidRequest(f"no incident {incident_id!r}", status=404, code="not_found")
        if resolve:
            default = IncidentStatus.COMPLETED if current.is_maintenance else IncidentStatus.RESOLVED
            message = data.get("message") or {"fr": "L'incident est résolu.", "en": "This incident has been resolved."}
            status = default
        else:
            allowed = ({IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING,
                        IncidentStatus.COMPLETED} if current.is_maintenance else _MANUAL_STATUSES)
            status = _status(data.get("status"), allowed, current.status)
            message = data.get("message")
        self._store.add_update(incident_id, status=status, body=parse_text(message, "message"), at=self._now(),
                               channels=self._channels)
        self._wake()
        updated = self._store.incident(incident_id)
        assert updated is not None
        return updated

    def _schedule(self, data: dict[str, Any]) -> Incident:
        _only(data, ("name", "message", "components", "starts", "ends"))
        starts, ends = parse_time(data.get("starts"), "starts"), parse_time(data.get("ends"), "ends")
        if ends <= starts:
            raise InvalidRequest("'ends' must be after 'starts'", code="invalid_field")
        incident = self._store.schedule_maintenance(
            name=parse_text(data.get("name"), "name"), body=parse_text(data.get("message"), "message"),
            components=parse_components(data.get("components"), self._known), starts=starts, ends=ends,
            at=self._now(), channels=self._channels)
        self._wake()
        return incident


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}
