"""Post-incident and period reports: figures equal the cost model's formula, GDPR deadlines, open incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from releve.config import Config
from releve.impact import (
    RtoCheck,
    RtoOutcome,
    UnknownIncident,
    incident_report,
    period_report,
    render_report,
)
from releve.store import Impact, IncidentStatus, Store, Text, TrafficMinute
from unit.impact._report_support import MIN, T0, Seeded, config, plain, seed

TIGHT = 1e-12


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path}/r.db")
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return config(tmp_path)


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)


def test_acceptance_incident_figures_equal_the_formula(store: Store, cfg: Config, seeded: Seeded) -> None:
    """1,000 requests over 10 minutes, 120 failed, 300 saved by failover: the model's formula, exactly."""
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    assert [p.key for p in report.processes] == ["support"]
    cost = report.processes[0].cost
    assert (cost.counts.total, cost.counts.failed, cost.counts.fallback, cost.counts.served) == (1000, 120, 300, 580)
    assert (report.start, report.end, report.so_far) == (T0, T0 + 10 * MIN, False)
    hours = 10 / 60
    assert cost.productivity_loss == pytest.approx(40 * 35 * 0.12 * hours, rel=TIGHT)
    assert cost.revenue_loss == pytest.approx(1200 * 0.12 * hours, rel=TIGHT)
    assert cost.avoided_productivity == pytest.approx(40 * 35 * 0.30 * hours, rel=TIGHT)
    assert cost.avoided_revenue == pytest.approx(1200 * 0.30 * hours, rel=TIGHT)
    assert report.loss == pytest.approx((40 * 35 + 1200) * 0.12 * hours, rel=TIGHT)
    assert report.avoided == pytest.approx((40 * 35 + 1200) * 0.30 * hours, rel=TIGHT)
    assert cost.availability == pytest.approx(0.88, rel=TIGHT)
    # Detection and recovery against the RTO (15 min): failure at T0, opened at +2:30, recovered at +8 min.
    assert report.incident.detection_seconds == 150
    assert (report.recovery_seconds, report.recovery_basis) == (480, "recovered")
    check = report.processes[0].rto_check
    assert check is not None and check.outcome is RtoOutcome.MET

    html, markdown = render_report(report, "en")
    for document in (plain(html), plain(markdown)):
        assert "40 users × 35 EUR/h × 0.0200 h = 28.00 EUR" in document
        assert "1,200 EUR/h × 0.0200 h = 24.00 EUR" in document
        assert "40 users × 35 EUR/h × 0.0500 h = 70.00 EUR" in document
        assert "(120 failed + 0.5 × (0 degraded + 0 deferred)) / 1,000 requests = 0.1200" in document
        assert "Cost incurred = 28.00 EUR + 24.00 EUR = 52.00 EUR" in document
        assert "met (8 min against an RTO of 15 min)" in document
        assert "2 min 30 s" in document
    french = plain(render_report(report, "fr")[1])
    assert "40 utilisateurs × 35 EUR/h × 0,0200 h = 28,00 EUR" in french
    assert "1 200 EUR/h × 0,0500 h = 60,00 EUR" in french


def test_timeline_lists_failure_detection_updates_and_recovery(store: Store, cfg: Config, seeded: Seeded) -> None:
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    kinds = [(entry.kind, entry.at - T0) for entry in report.timeline]
    assert kinds == [("started", timedelta()), ("detected", timedelta(minutes=2, seconds=30)),
                     ("update", 8 * MIN), ("recovered", 8 * MIN), ("update", 10 * MIN)]
    markdown = render_report(report, "en")[1]
    assert "Incident opened by Relève (detection) – investigating: Relève moved traffic to mistral." in plain(markdown)


def test_gdpr_deadline_is_72_hours_after_detection_in_both_languages(store: Store, cfg: Config,
                                                                      seeded: Seeded) -> None:
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    [notice] = report.gdpr
    assert notice.aware_at == report.incident.created_at == T0 + timedelta(minutes=2, seconds=30)
    assert notice.deadline == notice.aware_at + timedelta(hours=72)
    english, french = (plain(render_report(report, language)[0]) for language in ("en", "fr"))
    assert "Assess whether to notify the supervisory authority by Mar 5, 2026, 10:02 UTC" in english
    assert "must notify" not in english
    assert "Évaluez s’il faut la notifier à l’autorité de contrôle" in french
    assert "avant le 5 mars 2026, 10:02 UTC" in french


def test_no_gdpr_paragraph_without_personal_data_or_without_unavailability(store: Store, cfg: Config,
                                                                          seeded: Seeded) -> None:
    # Sales is unavailable (a major outage) but holds no personal data.
    sales = incident_report(store, cfg, seeded.open, now=T0 + 24 * MIN)
    assert sales.processes[0].unavailable and sales.gdpr == ()
    # Support holds personal data, but everything was served during this incident.
    quiet = store.open_incident(name=Text("Lenteurs", "Slowness"), body=Text("?", "?"), impact=Impact.MINOR,
                                components=["process:support"], affected=(), at=T0 + 40 * MIN, automatic=False,
                                started_at=T0 + 40 * MIN)
    store.add_traffic([TrafficMinute("chat", T0 + 40 * MIN, served=50)])
    store.add_update(quiet.id, status=IncidentStatus.RESOLVED, body=Text("ok", "ok"), at=T0 + 42 * MIN)
    report = incident_report(store, cfg, quiet.id, now=T0 + 60 * MIN)
    assert not report.processes[0].unavailable and report.gdpr == ()
    for language in ("en", "fr"):
        for document in (*render_report(report, language), *render_report(sales, language)):
            assert "GDPR" not in document and "RGPD" not in document


def test_open_incident_is_reported_so_far(store: Store, cfg: Config, seeded: Seeded) -> None:
    now = T0 + 24 * MIN
    report = incident_report(store, cfg, seeded.open, now=now)
    assert report.so_far and (report.start, report.end) == (T0 + 20 * MIN, now)
    assert (report.recovery_seconds, report.recovery_basis) == (240, "so_far")
    assert report.timeline[-1].kind == "report"
    # No traffic: the major outage status stands in, 4 minutes at loss 1 (5 users × 50 EUR/h).
    cost = report.processes[0].cost
    assert cost.lost_hours == pytest.approx(4 / 60, rel=TIGHT)
    assert cost.productivity_loss == pytest.approx(5 * 50 * 4 / 60, rel=TIGHT)
    check = report.processes[0].rto_check
    assert check is not None and check.outcome is RtoOutcome.PENDING   # 4 min so far, RTO 5 min
    english, french = render_report(report, "en")[1], render_report(report, "fr")[1]
    assert "(so far)" in english and "figures so far" in english and "4 min so far" in plain(english)
    assert "(à ce stade)" in french and "chiffres à ce stade" in french
    later = incident_report(store, cfg, seeded.open, now=T0 + 30 * MIN)
    assert "already missed by 5 min" in plain(render_report(later, "en")[1])


def test_rto_outcomes() -> None:
    assert RtoCheck(900, 480, so_far=False).outcome is RtoOutcome.MET
    missed = RtoCheck(300, 550, so_far=False)
    assert missed.outcome is RtoOutcome.MISSED and missed.missed_by == 250
    assert RtoCheck(300, 100, so_far=True).outcome is RtoOutcome.PENDING
    assert RtoCheck(None, 100, so_far=False).outcome is RtoOutcome.NONE


def test_unknown_incident(store: Store, cfg: Config) -> None:
    with pytest.raises(UnknownIncident, match="no incident 'nope'"):
        incident_report(store, cfg, "nope", now=T0)


def test_period_report_totals_every_process_and_lists_incidents(store: Store, cfg: Config, seeded: Seeded) -> None:
    report = period_report(store, cfg, T0 - 10 * MIN, T0 + 50 * MIN, now=T0 + 50 * MIN)
    by_key = {p.key: p.cost for p in report.processes}
    assert set(by_key) == {"support", "sales"}
    assert by_key["support"].loss == pytest.approx((40 * 35 + 1200) * 0.12 * 10 / 60, rel=TIGHT)
    assert by_key["support"].availability == pytest.approx(1 - 0.02, rel=TIGHT)   # 0.02 h lost over 1 h
    assert by_key["sales"].lost_hours == pytest.approx(6 / 60, rel=TIGHT)          # 6 minutes of major outage
    assert report.loss == pytest.approx(52 + 5 * 50 * 0.1, rel=TIGHT)
    assert [row.incident.id for row in report.incidents] == [seeded.open, seeded.resolved]   # newest first
    open_row, resolved_row = report.incidents
    assert open_row.so_far and open_row.rto_check.outcome is RtoOutcome.MISSED   # 30 min so far, RTO 5 min
    assert resolved_row.rto_check.outcome is RtoOutcome.MET
    [notice] = report.gdpr
    assert notice.incident_id == seeded.resolved and notice.deadline == T0 + timedelta(minutes=2, seconds=30, hours=72)
    markdown = plain(render_report(report, "en")[1])
    assert "| Customer support: degraded service (`" in markdown and "| 2 min 30 s | 8 min |" in markdown
    assert "52.00 EUR (Customer support) + 25.00 EUR (Sales)" in markdown


def test_period_without_incidents_but_personal_data_loss_says_so_without_a_deadline(store: Store,
                                                                                  cfg: Config) -> None:
    store.add_traffic([TrafficMinute("chat", T0, served=90, failed=10)])
    report = period_report(store, cfg, T0, T0 + 60 * MIN, now=T0 + 60 * MIN)
    assert report.incidents == ()
    [notice] = report.gdpr
    assert notice.deadline is None and notice.failed == 10
    english = render_report(report, "en")[1]
    assert "while no incident was recorded" in english and "within 72 hours of becoming aware" in english
    assert "No incidents in the period." in english


def test_method_section_quotes_the_cost_model_in_both_languages(store: Store, cfg: Config, seeded: Seeded) -> None:
    from releve.impact import _cost

    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    english, french = render_report(report, "en")[1], render_report(report, "fr")[1]
    doc = _cost.__doc__ or ""
    assert doc[doc.index("Over an interval"):].strip() in english
    assert "minutes **sans trafic**" in french and "panne partielle 0,3" in french
    html = render_report(report, "en")[0]
    assert "<code>loss = (failed + w × (degraded + deferred)) / total</code>" in html
    assert "<code>perte = (échecs + w × (dégradées + différées)) / total</code>" in render_report(report, "fr")[0]


def test_report_without_processes(store: Store, cfg: Config) -> None:
    incident = store.open_incident(name=Text("Route", "Route"), body=Text("?", "?"), impact=Impact.MINOR,
                                   components=["route:chat"], affected=(), at=T0, automatic=False)
    report = incident_report(store, cfg, incident.id, now=T0 + 5 * MIN)
    assert report.processes == () and report.loss == 0
    html, markdown = render_report(report, "fr")
    assert "Aucun processus métier n’est concerné." in markdown and "<svg" not in html
    assert "inconnu : le début de la panne n’a pas été enregistré" in plain(markdown)


def test_deferred_requests_are_shown_apart_and_counted_like_degraded_ones(store: Store, cfg: Config) -> None:
    """A minute with deferred requests: their own column, their own term in the formulas, the degraded weight."""
    store.add_traffic([TrafficMinute("chat", T0, served=50, fallback=10, degraded=4, deferred=30, failed=6)])
    report = period_report(store, cfg, T0, T0 + MIN, now=T0 + MIN)
    support = next(p for p in report.processes if p.key == "support")
    assert support.cost.counts.deferred == 30 and support.cost.counts.total == 100
    assert support.cost.loss_fraction == pytest.approx((6 + 0.5 * (4 + 30)) / 100, rel=TIGHT)
    html, markdown = (plain(document) for document in render_report(report, "en"))
    assert "| Process | Primary | Fallback | Degraded | Deferred | Failed | Total |" in markdown
    assert "| Customer support | 50 | 10 | 4 | 30 | 6 | 100 |" in markdown
    assert '<th scope="col" class="num">Deferred</th>' in html and '<td class="num">30</td>' in html
    for document in (html, markdown):
        assert "100 requests = 50 primary + 10 fallback + 4 degraded + 30 deferred + 6 failed" in document
        assert "(6 failed + 0.5 × (4 degraded + 30 deferred)) / 100 requests = 0.2300" in document
        assert "4 degraded, 30 deferred, 6 failed." in document   # the chart's text alternative
    html_fr, markdown_fr = (plain(document) for document in render_report(report, "fr"))
    header = "| Processus | Choix principal | Secours (bascule) | Mode dégradé | Différées | Échec | Total |"
    assert header in markdown_fr
    assert "| Support client | 50 | 10 | 4 | 30 | 6 | 100 |" in markdown_fr
    for document in (html_fr, markdown_fr):
        assert "100 requêtes = 50 choix principal + 10 secours + 4 mode dégradé + 30 différées + 6 échec" in document
        assert "Part perdue = (6 échecs + 0,5 × (4 dégradées + 30 différées)) / 100 requêtes = 0,2300" in document
