"""The incident report says, from the audit log, whether personal data went anywhere new during the incident.

The support incident of `_report_support` runs from T0 to T0+10 min, so the comparison interval is T0-10 min
to T0. Route `chat` (process `support`, personal data) fails over from `eu/m` (EU, as is) to `us/m` (US,
pseudonymised); `backup/big` may never receive personal data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from releve.config import Config, load_config
from releve.impact import incident_report, render_report
from releve.store import Impact, Store, Text
from unit.impact._report_support import MIN, T0, Seeded, plain, seed

Entry = tuple[datetime, str, str, dict[str, Any]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path}/r.db")
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    path = tmp_path / "releve.yaml"
    path.write_text(f"""
auth: none
storage: {{url: "sqlite:///{tmp_path}/r.db"}}
providers:
  eu: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", region: eu, personal_data: true}}
  us: {{kind: openai-compatible, base_url: "http://127.0.0.1:2/v1", region: us, personal_data: pseudonymized}}
  backup: {{kind: openai-compatible, base_url: "http://127.0.0.1:3/v1", region: us, personal_data: false}}
routes:
  chat: {{targets: [{{provider: eu, model: m}}, {{provider: us, model: m}}, {{provider: backup, model: big}}]}}
  sell: {{targets: [{{provider: backup, model: big}}]}}
processes:
  support:
    name: {{fr: Support client, en: Customer support}}
    routes: [chat]
    users: 40
    hourly_cost: 35
    personal_data: true
  sales:
    name: {{fr: Ventes, en: Sales}}
    routes: [sell]
    users: 5
    hourly_cost: 50
currency: EUR
""")
    return load_config(path, {})


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)


def request(at: datetime, targets: Sequence[str], *, route: str = "chat", personal: bool = True,
            outcome: str = "served", regions: Sequence[str] | None = None,
            pii: dict[str, int] | None = None) -> Entry:
    """A `request` entry as the gateway writes it (`request_record`)."""
    found = sorted({"us" if target.startswith(("us/", "backup/")) else "eu" for target in targets})
    return (at, "request", "gateway", {
        "client": None, "client_name": None, "route": route, "targets": list(targets),
        "regions": list(regions) if regions is not None else found, "data_class": "personal" if personal else "none",
        "pii": pii or {}, "outcome": outcome, "status": None, "request_id": None})


def skip(at: datetime, target: str, route: str = "chat") -> Entry:
    return (at, "policy_skip", "gateway", {"route": route, "target": target})


EU, US = "eu/m (as is)", "us/m (pseudonymized)"


def documents(store: Store, cfg: Config, seeded: Seeded) -> dict[str, tuple[str, str]]:
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    out = {}
    for language in ("en", "fr"):
        html, markdown = render_report(report, language)
        out[language] = (plain(html), plain(markdown))
    return out


def test_personal_data_went_only_where_it_went_before(store: Store, cfg: Config, seeded: Seeded) -> None:
    before = [request(T0 - 8 * MIN + i * MIN, [EU]) for i in range(3)] + [request(T0 - 2 * MIN, [EU, US])]
    during = [
        *[request(T0 + i * MIN, [EU]) for i in range(5)],
        request(T0 + 3 * MIN, [EU, US], pii={"EMAIL": 2}), request(T0 + 4 * MIN, [EU, US], pii={"EMAIL": 1}),
        request(T0 + 5 * MIN, [], outcome="refused"), skip(T0 + 5 * MIN, "backup/big"),
        request(T0 + 6 * MIN, ["backup/big (as is)"], personal=False),       # no personal data: not counted
        request(T0 + 6 * MIN, ["backup/big (as is)"], route="sell"),         # another process's route
    ]
    after = [request(T0 + 11 * MIN, ["backup/big (as is)"])]                # after the incident's end
    store.append_audit([*before, *during, *after], key=None)

    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    use = report.personal_data
    assert use is not None
    assert (use.routes, use.before, use.start, use.end) == (("chat",), T0 - 10 * MIN, T0, T0 + 10 * MIN)
    assert (use.requests, use.refused, use.regions) == (8, 1, ("eu", "us"))
    assert [(f.target, f.form, f.regions, f.requests, f.before, f.new) for f in use.flows] == [
        ("eu/m", "as is", ("eu",), 7, 4, False), ("us/m", "pseudonymized", ("us",), 2, 1, False)]
    assert use.new == ()
    assert use.skipped == (("backup/big", 1),)
    assert use.identifiers == (("EMAIL", 3),)

    docs = documents(store, cfg, seeded)
    for document in docs["en"]:
        assert "Personal data during the incident" in document
        assert ("Personal data went only where it already went before the incident: eu/m (as is, region eu): "
                "7 requests; us/m (pseudonymized, region us): 2 requests.") in document
        assert "Requests carrying personal data on chat: 8; refused by the data policy: 1; regions: eu, us." in document
        assert "Targets the data policy kept requests from: backup/big (1×)." in document
        assert "Identifiers detected: EMAIL 3." in document
        assert "somewhere new" not in document and "Warning" not in document
    for document in docs["fr"]:
        assert "Données personnelles pendant l’incident" in document
        assert ("Les données personnelles ne sont allées que là où elles allaient déjà avant l’incident : eu/m "
                "(en clair, région eu) : 7 requêtes ; us/m (pseudonymisées, région us) : 2 requêtes.") in document
        assert "refusées par la politique de données : 1" in document
    html = docs["en"][0]
    assert 'class="notice pd-same"' in html and 'role="alert"' not in html


def test_a_new_target_is_a_warning(store: Store, cfg: Config, seeded: Seeded) -> None:
    """us/m received personal data 15 min before the incident, outside the comparison interval: still new."""
    store.append_audit([
        request(T0 - 15 * MIN, [EU, US]),
        *[request(T0 - 9 * MIN + i * MIN, [EU]) for i in range(4)],
        request(T0 + 2 * MIN, [EU]),
        *[request(T0 + 3 * MIN + i * MIN, [EU, US], outcome="served" if i else "failed") for i in range(3)],
    ], key=None)

    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    use = report.personal_data
    assert use is not None
    assert [(f.target, f.form, f.requests, f.before, f.new) for f in use.new] == [("us/m", "pseudonymized", 3, 0, True)]
    assert [(f.target, f.new) for f in use.flows] == [("eu/m", False), ("us/m", True)]

    docs = documents(store, cfg, seeded)
    html_en, md_en = docs["en"]
    html_fr, md_fr = docs["fr"]
    sentence_en = "Personal data went somewhere new during the incident: us/m (pseudonymized, region us): 3 requests."
    sentence_fr = ("Des données personnelles sont allées vers une nouvelle destination pendant l’incident : us/m "
                   "(pseudonymisées, région us) : 3 requêtes.")
    for document in (html_en, md_en):
        assert sentence_en in document
        assert "eu/m (as is, region eu)" not in document   # only the new flow is named
        assert "only where it already went" not in document
    for document in (html_fr, md_fr):
        assert sentence_fr in document
        assert "Données personnelles pendant l’incident" in document
    # Styled as a warning in both formats.
    assert f'<p class="notice pd-new" role="alert"><strong>Warning: {sentence_en}</strong></p>' in html_en
    assert f"<strong>Attention : {sentence_fr}</strong>" in html_fr
    assert f"> **⚠ Warning: {sentence_en}**" in md_en
    assert f"> **⚠ Attention : {sentence_fr}**" in md_fr
    # The table marks the new row.
    assert '<tr class="pd-new-row"><th scope="row">us/m</th><td>pseudonymized</td>' in html_en
    assert "| us/m | pseudonymized | us | 3 | 0 | **yes** |" in md_en
    assert "| eu/m | as is | eu | 4 | 4 | no |" in md_en
    assert "| us/m | pseudonymisées | us | 3 | 0 | **oui** |" in md_fr


def test_no_personal_data_on_the_routes(store: Store, cfg: Config, seeded: Seeded) -> None:
    store.append_audit([
        request(T0 - 5 * MIN, [EU]),
        request(T0 + MIN, ["backup/big (as is)"], personal=False),
        request(T0 + 2 * MIN, [US], route="sell"),
    ], key=None)

    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    use = report.personal_data
    assert use is not None and (use.requests, use.flows) == (0, ())

    docs = documents(store, cfg, seeded)
    for document in docs["en"]:
        assert "No request with personal data on these routes (chat) during the incident." in document
        assert "went only where" not in document and "somewhere new" not in document
    for document in docs["fr"]:
        assert "Aucune requête avec des données personnelles sur ces routes (chat) pendant l’incident." in document
    assert 'class="notice pd-none"' in docs["en"][0] and 'role="alert"' not in docs["en"][0]


def test_an_empty_audit_log_says_no_personal_data(store: Store, cfg: Config, seeded: Seeded) -> None:
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    assert report.personal_data is not None and report.personal_data.requests == 0
    assert "No request with personal data on these routes (chat)" in plain(render_report(report, "en")[1])


def test_an_open_incident_compares_with_as_long_before(store: Store, cfg: Config, seeded: Seeded) -> None:
    """The sales incident is open from T0+20 min; reported at T0+30 min, it is compared with T0+10 to T0+20."""
    store.append_audit([
        request(T0 + 9 * MIN, ["backup/big (as is)"], route="sell"),
        request(T0 + 12 * MIN, ["backup/big (as is)"], route="sell"),
        request(T0 + 25 * MIN, ["backup/big (as is)"], route="sell"),
    ], key=None)
    report = incident_report(store, cfg, seeded.open, now=T0 + 30 * MIN)
    use = report.personal_data
    assert use is not None
    assert (use.routes, use.before, use.end) == (("sell",), T0 + 10 * MIN, T0 + 30 * MIN)
    assert [(f.target, f.requests, f.before, f.new) for f in use.flows] == [("backup/big", 1, 1, False)]


def test_regions_come_from_the_configuration_or_the_entry(store: Store, cfg: Config, seeded: Seeded) -> None:
    """A provider removed from the configuration since: the region the entry lists for it is what happened,
    when it can be told apart from the others'."""
    store.append_audit([request(T0 + MIN, ["gone/x (as is)"], regions=["ch"]),
                        request(T0 + 2 * MIN, ["gone/x (as is)", EU], regions=["ch", "eu"]),
                        request(T0 + 3 * MIN, ["gone/x (as is)", "old/y (as is)"], regions=["ch", "de"])], key=None)
    report = incident_report(store, cfg, seeded.resolved, now=T0 + 60 * MIN)
    use = report.personal_data
    assert use is not None
    assert [(f.target, f.regions) for f in use.flows] == [
        ("eu/m", ("eu",)), ("gone/x", ("ch", "unknown")), ("old/y", ("unknown",))]
    assert use.regions == ("ch", "eu", "unknown")
    assert "gone/x (as is, region ch, unknown): 3 requests" in plain(render_report(report, "en")[1])
    assert "old/y (en clair, région inconnue) : 1 requête" in plain(render_report(report, "fr")[1])


def test_incident_on_a_route_alone_reports_that_route(store: Store, cfg: Config) -> None:
    incident = store.open_incident(name=Text("chat", "chat"), body=Text("x", "x"), impact=Impact.MINOR,
                                   components=["route:chat"], affected=(), at=T0 + MIN, automatic=True,
                                   started_at=T0)
    store.append_audit([request(T0 + MIN, [US])], key=None)
    report = incident_report(store, cfg, incident.id, now=T0 + timedelta(minutes=3))
    assert report.processes == ()
    use = report.personal_data
    assert use is not None and use.routes == ("chat",) and [f.new for f in use.flows] == [True]
