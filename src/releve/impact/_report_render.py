"""Reports as documents: the facts of `_report` put into words, figures and charts, in French or English.

Every figure is printed next to the formula that produced it, with its counts, so that a reader (or an
auditor) can redo the sum by hand. One context feeds both templates, HTML (for the PDF) and Markdown (for
tickets), so the two never disagree.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from . import _cost
from ._charts import cost_chart, requests_chart
from ._render import render, write_documents
from ._report import IncidentReport, PeriodReport, ProcessImpact, RtoCheck, RtoOutcome
from ._report_privacy import DataFlow, PersonalDataUse
from ._report_text import (
    INCIDENT_STATUS,
    LABELS,
    METHOD_FR,
    format_count,
    format_datetime,
    format_day,
    format_duration,
    format_hours,
    format_money,
    format_number,
    format_percent,
    format_rate,
    label,
)

__all__ = ["method_text", "render_report", "report_context", "rto_text", "write_report"]

Report = IncidentReport | PeriodReport


def method_text(language: str) -> str:
    """The cost model as `_cost`'s docstring states it (English), or its French translation."""
    if language == "fr":
        return METHOD_FR
    doc = _cost.__doc__ or ""
    return doc[doc.index("Over an interval"):].strip() + "\n"


def _inline(text: str) -> Markup:
    """`code` and **bold** of the method text, HTML-escaped otherwise."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html))


def _method_html(text: str) -> Markup:
    """Paragraphs and "- " lists, the little Markdown the method text uses."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if lines[0].startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line.strip()
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(line.strip() for line in lines))}</p>")
    return Markup("".join(out))


def _plain(value: float, language: str) -> str:
    """A configured factor as written: 0.5, not 0.5000."""
    text = f"{value:g}"
    return text.replace(".", ",") if language == "fr" else text


def rto_text(check: RtoCheck, language: str) -> str:
    """"met" / "missed by 4 min 10 s" / "not exceeded yet", with the recovery time and the RTO."""
    if check.rto is None:
        return label("rto_none", language)
    values = {"recovery": format_duration(check.recovery, language), "rto": format_duration(check.rto, language),
              "by": format_duration(check.missed_by, language)}
    key = {RtoOutcome.MET: "rto_met", RtoOutcome.PENDING: "rto_pending"}.get(
        check.outcome, "rto_missed_so_far" if check.so_far else "rto_missed")
    return label(key, language, **values)


def _formulas(process: ProcessImpact, currency: str, language: str) -> list[str]:
    """Each figure of `ProcessCost` with the numbers it is computed from."""
    c, n = process.cost, process.cost.counts

    def money(value: float) -> str:
        return format_money(value, currency, language)

    def count(value: int) -> str:
        return format_count(value, language)

    hours = {"traffic_h": format_number(c.traffic_hours, language, 4),
             "quiet_h": format_number(c.quiet_hours, language, 4)}
    lost, saved = format_hours(c.lost_hours, language), format_hours(c.saved_hours, language)
    loss_fraction, saved_fraction = format_number(c.loss_fraction, language, 4), format_number(c.saved_fraction,
                                                                                               language, 4)
    out = [label("f_requests", language, total=count(n.total), served=count(n.served), fallback=count(n.fallback),
                 degraded=count(n.degraded), deferred=count(n.deferred), failed=count(n.failed)),
           label("f_time", language, traffic=count(round(c.traffic_hours * 60)), quiet=count(round(c.quiet_hours * 60)),
                 **hours)]
    if n.total:
        out += [label("f_loss", language, failed=count(n.failed), weight=_plain(c.degraded_weight, language),
                      degraded=count(n.degraded), deferred=count(n.deferred), total=count(n.total),
                      value=loss_fraction),
                label("f_saved", language, fallback=count(n.fallback), total=count(n.total), value=saved_fraction)]
    users, rate = count(c.users), format_rate(c.hourly_cost, currency, language)
    revenue = format_rate(c.revenue_per_hour, currency, language)
    out += [
        label("f_lost_hours", language, loss=loss_fraction, quiet_lost_h=format_number(c.quiet_lost_hours, language, 4),
              value=lost, **hours),
        label("f_saved_hours", language, saved=saved_fraction, value=saved, **hours),
        label("f_productivity", language, users=users, rate=rate, hours=lost, value=money(c.productivity_loss)),
        label("f_revenue", language, rate=revenue, hours=lost, value=money(c.revenue_loss)),
        label("f_loss_total", language, productivity=money(c.productivity_loss), revenue=money(c.revenue_loss),
              value=money(c.loss)),
        label("f_avoided_productivity", language, users=users, rate=rate, hours=saved,
              value=money(c.avoided_productivity)),
        label("f_avoided_revenue", language, rate=revenue, hours=saved, value=money(c.avoided_revenue)),
        label("f_avoided_total", language, productivity=money(c.avoided_productivity),
              revenue=money(c.avoided_revenue), value=money(c.avoided)),
        label("f_availability", language, lost=lost, hours=format_hours(c.hours, language),
              value=format_percent(c.availability, language)),
    ]
    return out


def _process(process: ProcessImpact, currency: str, language: str) -> dict[str, Any]:
    c, n = process.cost, process.cost.counts
    name = process.name.get(language)
    chart = requests_chart(c.timeline, language, name=name)
    tags = [label("criticality", language, value=label(f"crit_{process.criticality}", language))]
    if process.personal_data:
        tags.append(label("personal_data", language))
    if process.owner:
        tags.append(label("owner", language, value=process.owner))
    if process.rto is not None:
        tags.append(f"RTO {format_duration(process.rto, language)}")
    return {
        "key": process.key, "name": name, "tags": ", ".join(tags),
        "served": format_count(n.served, language), "fallback": format_count(n.fallback, language),
        "degraded": format_count(n.degraded, language), "deferred": format_count(n.deferred, language),
        "failed": format_count(n.failed, language),
        "total": format_count(n.total, language), "lost_hours": format_hours(c.lost_hours, language),
        "availability": format_percent(c.availability, language),
        "loss": format_money(c.loss, currency, language), "avoided": format_money(c.avoided, currency, language),
        "rto": rto_text(process.rto_check, language) if process.rto_check is not None else None,
        "formulas": _formulas(process, currency, language),
        "chart": Markup(chart.svg) if chart else None,
        "chart_alt": chart.alt if chart else label("chart_no_traffic", language, name=name),
    }


def _total(report: Report, attribute: str, language: str) -> str:
    """The sum over processes, written out when there are several: "80.00 EUR = 52.00 EUR (A) + 28.00 EUR (B)"."""
    values = [(p.name.get(language), getattr(p.cost, attribute)) for p in report.processes]
    total = format_money(sum(v for _, v in values), report.currency, language)
    if len(values) < 2:
        return total
    terms = " + ".join(f"{format_money(v, report.currency, language)} ({name})" for name, v in values)
    return f"{total} = {terms}"


def _incident_parts(report: IncidentReport, language: str) -> dict[str, Any]:
    incident = report.incident
    status = INCIDENT_STATUS[incident.status][language]
    if incident.started_at is not None and incident.detection_seconds is not None:
        detection = label("detection_value", language, duration=format_duration(incident.detection_seconds, language),
                          start=format_datetime(incident.started_at, language, seconds=True),
                          detected=format_datetime(incident.created_at, language, seconds=True))
    else:
        detection = label("detection_unknown", language)
    recovery = label(f"recovery_{report.recovery_basis}", language,
                     duration=format_duration(report.recovery_seconds, language),
                     at=format_datetime(report.recovery_at, language, seconds=True))
    events = []
    for entry in report.timeline:
        state = INCIDENT_STATUS[entry.status][language] if entry.status is not None else ""
        events.append({"at": format_datetime(entry.at, language, seconds=True),
                       "event": label(f"ev_{entry.kind}", language, status=state),
                       "text": entry.body.get(language) if entry.body is not None else ""})
    title = label("incident_title", language, name=incident.name.get(language))
    return {
        "kind": "incident", "title": f"{title} {label('so_far_title', language)}" if report.so_far else title,
        "subtitle": f"{incident.id} · {status}",
        "so_far": label("so_far", language, now=format_datetime(report.generated_at, language)) if report.so_far
        else None,
        "summary": [(label("status", language), status), (label("detection", language), detection),
                    (label("recovery", language), recovery)],
        "timeline": events, "incidents": [], "incidents_note": None,
    }


def _period_parts(report: PeriodReport, language: str) -> dict[str, Any]:
    day = format_day if report.until - report.since >= timedelta(days=2) else format_datetime
    rows = []
    for row in report.incidents:
        incident = row.incident
        status = INCIDENT_STATUS[incident.status][language]
        recovery = format_duration(row.recovery_seconds, language)
        rows.append({
            "id": incident.id, "name": incident.name.get(language),
            "status": f"{status} ({label('open_so_far', language)})" if row.so_far else status,
            "started": format_datetime(incident.started_at or incident.created_at, language),
            "detection": format_duration(incident.detection_seconds, language)
            if incident.detection_seconds is not None else "—",
            "recovery": f"{recovery} {label('so_far_title', language)}" if row.so_far else recovery,
            "rto": rto_text(row.rto_check, language),
            "processes": ", ".join(name.get(language) for name in row.processes) or "—",
        })
    return {
        "kind": "period", "subtitle": "", "so_far": None,
        "title": label("period_title", language, since=day(report.since, language), until=day(report.until, language)),
        "summary": [(label("incidents", language), str(len(report.incidents)))],
        "timeline": [], "incidents": rows,
        "incidents_note": label("incidents_truncated", language, count=len(rows)) if report.incidents_truncated
        else None,
    }


def _gdpr(report: Report, language: str) -> list[str]:
    out = []
    for notice in report.gdpr:
        values = {"name": notice.name.get(language), "lost": format_hours(notice.lost_hours, language),
                  "failed": format_count(notice.failed, language)}
        if notice.deadline is None or notice.aware_at is None:
            out.append(label("gdpr_no_incident", language, **values))
        else:
            out.append(label("gdpr_text", language, deadline=format_datetime(notice.deadline, language),
                             aware=format_datetime(notice.aware_at, language), incident=notice.incident_id,
                             **values))
    return out


def _form(form: str, language: str) -> str:
    key = f"pd_form_{form}"
    return label(key, language) if key in LABELS[language] else form


def _regions(regions: tuple[str, ...], language: str) -> str:
    return ", ".join(label("pd_region_unknown", language) if r == "unknown" else r for r in regions) or "—"


def _flow(flow: DataFlow, language: str) -> str:
    count = format_count(flow.requests, language)
    requests = label("pd_requests_one" if flow.requests == 1 else "pd_requests_many", language, count=count)
    return label("pd_flow", language, target=flow.target, form=_form(flow.form, language),
                 region=_regions(flow.regions, language), requests=requests)


def _personal_data(use: PersonalDataUse | None, language: str) -> dict[str, Any] | None:
    """The section "Personal data during the incident": a statement (a warning when something is new), details,
    and a row per target and form."""
    if use is None:
        return None
    routes, join = ", ".join(use.routes), label("pd_join", language)
    if not use.flows:
        state, statement = "none", label("pd_none", language, routes=routes)
    elif use.new:
        state, statement = "new", label("pd_new", language, flows=join.join(_flow(f, language) for f in use.new))
    else:
        state, statement = "same", label("pd_same", language, flows=join.join(_flow(f, language) for f in use.flows))
    details = []
    if use.requests:
        details.append(label("pd_summary", language, routes=routes, requests=format_count(use.requests, language),
                             refused=format_count(use.refused, language), regions=_regions(use.regions, language)))
    if use.identifiers:
        details.append(label("pd_identifiers", language, kinds=", ".join(
            f"{kind} {format_count(count, language)}" for kind, count in use.identifiers)))
    if use.skipped:
        details.append(label("pd_skipped", language, targets=", ".join(
            f"{target} ({format_count(count, language)}×)" for target, count in use.skipped)))
    details.append(label("pd_compared", language, start=format_datetime(use.before, language, seconds=True),
                         end=format_datetime(use.start, language, seconds=True)))
    rows = [{"target": f.target, "form": _form(f.form, language), "region": _regions(f.regions, language),
             "during": format_count(f.requests, language), "before": format_count(f.before, language),
             "new": f.new, "new_text": label("pd_yes" if f.new else "pd_no", language)} for f in use.flows]
    return {"state": state, "statement": statement, "details": details, "rows": rows}


def report_context(report: Report, language: str) -> dict[str, Any]:
    """What both templates are rendered with: every figure already formatted for `language`."""
    if language not in LABELS:
        raise ValueError(f"language {language!r} is not available (fr, en)")
    start, end = (report.start, report.end) if isinstance(report, IncidentReport) else (report.since, report.until)
    parts = _incident_parts(report, language) if isinstance(report, IncidentReport) else _period_parts(report,
                                                                                                     language)
    interval = label("interval_value", language, start=format_datetime(start, language, seconds=True),
                     end=format_datetime(end, language, seconds=True),
                     duration=format_duration((end - start).total_seconds(), language))
    parts["summary"] = [(label("interval", language), interval), *parts["summary"],
                        (label("cost_incurred", language), _total(report, "loss", language)),
                        (label("cost_avoided", language), _total(report, "avoided", language))]
    chart = cost_chart([p.cost.timeline for p in report.processes], language, currency=report.currency)
    method = method_text(language)
    return {
        **parts, "lang": language, "t": LABELS[language], "currency": report.currency,
        "colon": "\u00a0: " if language == "fr" else ": ",
        "generated": label("generated", language, at=format_datetime(report.generated_at, language)),
        "processes": [_process(p, report.currency, language) for p in report.processes],
        "cost_chart": Markup(chart.svg) if chart else None, "cost_chart_alt": chart.alt if chart else None,
        "gdpr": _gdpr(report, language),
        "personal_data": _personal_data(report.personal_data, language) if isinstance(report, IncidentReport)
        else None,
        "method_md": method, "method_html": _method_html(method),
    }


def render_report(report: Report, language: str) -> tuple[str, str]:
    """(HTML, Markdown) of a report in French ("fr") or English ("en")."""
    context = report_context(report, language)
    return render("report.html", context), render("report.md", context)


def write_report(report: Report, directory: Path, language: str) -> dict[str, Path]:
    """`<stem>.<language>.html`, `.pdf` and `.md` in `directory`; their paths by format."""
    html, markdown = render_report(report, language)
    return write_documents(directory, f"{report.stem}.{language}", html, markdown)
