"""The cost so far of each open incident, per affected process: what `releve status` and the admin API show.

Traffic reaches the store every `monitor.flush_every` (10 s by default), so
the figures lag real time by at most that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from releve.config import Config
from releve.store import Incident, Store

from ._cost import ProcessCost, minute_floor, process_cost

__all__ = ["IncidentCost", "incident_costs", "live_costs"]


@dataclass(frozen=True, slots=True)
class IncidentCost:
    incident: Incident
    processes: tuple[ProcessCost, ...]

    @property
    def loss(self) -> float:
        return sum(cost.loss for cost in self.processes)

    @property
    def avoided(self) -> float:
        return sum(cost.avoided for cost in self.processes)


def incident_costs(store: Store, config: Config, incident: Incident, now: datetime) -> IncidentCost:
    """Costs over [failure start (or opening), resolution (or now)) for each process the incident names."""
    start = incident.started_at or incident.created_at
    end = incident.resolved_at or now
    names = [component.partition(":")[2] for component in incident.components
             if component.startswith("process:") and component.partition(":")[2] in config.processes]
    routes = sorted({route for name in names for route in config.processes[name].routes})
    # Traffic is kept per whole minute: the minute the failure began in counts entirely.
    traffic = store.traffic(routes, minute_floor(start), end) if routes else []
    history = store.status_history([f"process:{name}" for name in names], start, end) if names else {}
    costs = tuple(
        process_cost(name, config.processes[name], traffic, history.get(f"process:{name}", []), start, end,
                     degraded_weight=config.impact.degraded_weight)
        for name in names)
    return IncidentCost(incident, costs)


def live_costs(store: Store, config: Config, now: datetime) -> list[IncidentCost]:
    open_incidents = store.incidents(unresolved=True, maintenance=False, limit=50)
    return [incident_costs(store, config, incident, now) for incident in open_incidents]
