"""What outages cost and how the business recovers: the cost model, reports, and the continuity plan."""

from ._cost import STATUS_LOSS, Counts, MinuteCost, ProcessCost, minute_floor, process_cost
from ._live import IncidentCost, incident_costs, live_costs
from ._render import html_to_pdf, render, write_documents

__all__ = [
    "Counts",
    "IncidentCost",
    "MinuteCost",
    "ProcessCost",
    "STATUS_LOSS",
    "html_to_pdf",
    "incident_costs",
    "live_costs",
    "minute_floor",
    "process_cost",
    "render",
    "write_documents",
]
