"""Statuspage's words in French and English: one vocabulary for the page, the reports and incident texts."""

from __future__ import annotations

from collections.abc import Mapping

from ._model import ComponentStatus, Impact, IncidentStatus, Text

__all__ = ["COMPONENT_STATUS_WORDS", "IMPACT_WORDS", "INCIDENT_STATUS_WORDS"]

COMPONENT_STATUS_WORDS: Mapping[ComponentStatus, Text] = {
    ComponentStatus.OPERATIONAL: Text("Opérationnel", "Operational"),
    ComponentStatus.UNDER_MAINTENANCE: Text("En maintenance", "Under maintenance"),
    ComponentStatus.DEGRADED_PERFORMANCE: Text("Performances dégradées", "Degraded performance"),
    ComponentStatus.PARTIAL_OUTAGE: Text("Panne partielle", "Partial outage"),
    ComponentStatus.MAJOR_OUTAGE: Text("Panne majeure", "Major outage"),
}

INCIDENT_STATUS_WORDS: Mapping[IncidentStatus, Text] = {
    IncidentStatus.INVESTIGATING: Text("Analyse en cours", "Investigating"),
    IncidentStatus.IDENTIFIED: Text("Cause identifiée", "Identified"),
    IncidentStatus.MONITORING: Text("Sous surveillance", "Monitoring"),
    IncidentStatus.RESOLVED: Text("Résolu", "Resolved"),
    IncidentStatus.POSTMORTEM: Text("Analyse post-incident", "Postmortem"),
    IncidentStatus.SCHEDULED: Text("Planifiée", "Scheduled"),
    IncidentStatus.IN_PROGRESS: Text("En cours", "In progress"),
    IncidentStatus.VERIFYING: Text("Vérification", "Verifying"),
    IncidentStatus.COMPLETED: Text("Terminée", "Completed"),
}

IMPACT_WORDS: Mapping[Impact, Text] = {
    Impact.NONE: Text("Sans impact", "No impact"),
    Impact.MINOR: Text("Impact mineur", "Minor impact"),
    Impact.MAJOR: Text("Impact majeur", "Major impact"),
    Impact.CRITICAL: Text("Impact critique", "Critical impact"),
    Impact.MAINTENANCE: Text("Maintenance", "Maintenance"),
}
