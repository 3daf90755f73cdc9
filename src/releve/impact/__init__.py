"""What outages cost and how the business recovers: the cost model, reports, and the continuity plan."""

from ._cost import STATUS_LOSS, Counts, MinuteCost, ProcessCost, minute_ceil, minute_floor, process_cost
from ._live import IncidentCost, incident_costs, live_costs
from ._plan import PLAN_LANGUAGES, continuity_plan, render_plan, write_plan
from ._plan_model import Plan
from ._render import html_to_pdf, render, write_documents
from ._report import (
    GdprNotice,
    IncidentReport,
    IncidentRow,
    PeriodReport,
    ProcessImpact,
    RtoCheck,
    RtoOutcome,
    TimelineEntry,
    UnknownIncident,
    incident_report,
    period_report,
)
from ._report_render import render_report, write_report

__all__ = [
    "Counts",
    "GdprNotice",
    "IncidentCost",
    "IncidentReport",
    "IncidentRow",
    "MinuteCost",
    "PLAN_LANGUAGES",
    "PeriodReport",
    "Plan",
    "ProcessCost",
    "ProcessImpact",
    "RtoCheck",
    "RtoOutcome",
    "STATUS_LOSS",
    "TimelineEntry",
    "UnknownIncident",
    "continuity_plan",
    "html_to_pdf",
    "incident_costs",
    "incident_report",
    "live_costs",
    "minute_ceil",
    "minute_floor",
    "period_report",
    "process_cost",
    "render",
    "render_plan",
    "render_report",
    "write_documents",
    "write_plan",
    "write_report",
]
