"""The continuity plan from a config: what it holds, what its HTML says in each language, and what it never says."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from releve.config import findings, parse_config
from releve.impact import PLAN_LANGUAGES, Plan, continuity_plan, render_plan
from releve.impact._plan_text import LABELS
from unit.impact._plan_support import CONFIG, NOW, SECRETS


@pytest.fixture(scope="module")
def plan() -> Plan:
    return continuity_plan(parse_config(CONFIG, {}), config_path="conf/releve.yaml", now=NOW)


@pytest.fixture(scope="module")
def html(plan: Plan) -> dict[str, str]:
    return {language: render_plan(plan, language) for language in PLAN_LANGUAGES}


def text_of(markup: str) -> str:
    """The page's text as a reader sees it, whitespace collapsed."""
    parts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    Text().feed(markup)
    return " ".join(" ".join(parts).split())


def test_the_plan_holds_the_business_view_of_the_config(plan: Plan) -> None:
    support, reporting = plan.processes
    assert (support.id, support.name.fr, support.name.en, support.criticality) == (
        "customer-support", "Support client", "Customer support", "high")
    assert support.outage_cost_per_hour == 40 * 35 + 1200
    assert (support.rto, support.rpo, support.mtd, support.personal_data) == (10, 300, 14400, True)
    assert support.contacts == ("+33 1 23 45 67 89", "oncall@example.com")
    assert reporting.name.fr == reporting.name.en == "Rapports mensuels" and reporting.rto == 3600
    route = plan.route("support-assistant")
    assert [(t.provider, t.region, t.personal_data) for t in route.targets] == [
        ("mistral", "eu", "allowed"), ("openai", "us", "refused"), ("local", "on-premises", "allowed")]
    assert (route.failover_wait, route.hedge_after, route.processes) == (16, 2, ("customer-support",))
    assert plan.route("batch").processes == ()
    assert [r.name for r in plan.unattached_routes] == ["batch"]
    assert plan.provider("claude").personal_data == "pseudonymized"
    assert plan.provider("claude").probe_request == "completion" and plan.provider("openai").probe_request == "models"


def test_urls_are_reduced_to_what_is_safe_to_print(plan: Plan) -> None:
    """Hosts of providers, webhooks and feeds; the scheme of Apprise URLs; the status page without credentials."""
    assert plan.provider("openai").host == "api.openai.com"
    assert plan.provider("local").host == "10.0.0.5"
    assert plan.provider("openai").status_feed_host == "status.openai.com"
    assert [(c.kind, c.service) for c in plan.channels] == [
        ("webhook", "hooks.example.com"), ("apprise", "mailtos"), ("apprise", "slack")]
    assert plan.status_page_url == "https://status.example.com/acme/status"
    assert plan.storage == "postgresql"
    assert plan.admins == ("ops",)


@pytest.mark.parametrize(("url", "kind"), [("sqlite:///releve.db", "sqlite-file"), ("sqlite://", "sqlite-memory"),
                                           ("sqlite:///:memory:", "sqlite-memory"),
                                           ("postgresql+psycopg://u:p@h/db", "postgresql")])
def test_the_store_is_named_by_its_dialect(url: str, kind: str) -> None:
    config = parse_config(CONFIG.replace("postgresql://releve:PG-SECRET-password@db.internal:5432/releve", url), {})
    assert continuity_plan(config, config_path="x", now=NOW).storage == kind


def test_a_plan_without_notify_public_url_or_processes_still_renders() -> None:
    config = parse_config("""
auth: none
providers: {a: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes: {chat: {targets: [{provider: a, model: m}]}}
""", {})
    plan = continuity_plan(config, config_path="x", now=NOW)
    assert plan.channels == () and plan.status_page_url is None and plan.processes == ()
    page = text_of(render_plan(plan, "en"))
    assert "No business process is declared" in page
    assert "Nobody is told" in page
    assert "served by Relève at /status" in page
    assert "not applicable: no fallback" in page
    assert "SQLite file" in page


def test_the_plan_shows_the_same_findings_as_releve_check(plan: Plan, html: dict[str, str]) -> None:
    config = parse_config(CONFIG, {})
    assert plan.findings == tuple(findings(config))
    assert plan.warnings == sum(1 for f in plan.findings if f.severity.value == "warning") > 0
    page = text_of(html["en"])
    for finding in plan.findings:
        assert finding.message in page


def test_the_bia_table_has_a_row_per_process(html: dict[str, str]) -> None:
    rows = re.findall(r"<tr>(.*?)</tr>", html["en"].split('<table class="bia">')[1].split("</table>")[0], re.S)
    cells = [[text_of(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]
    assert cells[1] == ["Customer support", "high", "40", "35", "1,200", "2,600", "10s", "5m", "4h", "yes",
                        "Claire Martin", "+33 1 23 45 67 89, oncall@example.com"]
    assert cells[2] == ["Rapports mensuels", "low", "5", "50.50", "0", "252.50", "1h", "—", "—", "no", "—", "—"]
    assert "Support client élevée 40 35 1 200 2 600 10s 5m 4h oui" in text_of(html["fr"])
    assert ">2\u202f600<" in html["fr"]  # French groups thousands with a narrow no-break space
    assert "Coût / utilisateur / h (EUR)" in text_of(html["fr"])


def test_the_diagram_is_inline_svg_with_a_text_alternative(html: dict[str, str]) -> None:
    for language in PLAN_LANGUAGES:
        page = html[language]
        svg = page[page.index("<svg"):page.index("</svg>")]
        assert 'role="img"' in svg and 'aria-describedby="diagram-text"' in svg
        assert f"<title id=\"plan-diagram-title\">{LABELS[language]['diagram_title']}</title>" in svg
        for name in ("customer-support", "support-assistant", "summaries", "mistral", "claude", "local"):
            assert f">{name}</text>" in svg
        assert svg.count("<path") == 3 + 8  # process → route lines, route → provider lines
        alternative = page.split('id="diagram-text">')[1].split("</ul>")[0]
        assert alternative.count("<li>") == 2 + 4 + 5
    alternative = text_of(html["en"].split('id="diagram-text">')[1].split("</ul>")[0])
    assert ("Route support-assistant tries, in order: mistral (mistral-small-latest), openai (gpt-4o-mini), "
            "local (llama3.2).") in alternative
    assert "Provider claude: region us, personal data after pseudonymisation." in alternative


def test_failover_detection_communication_and_recovery_sections(html: dict[str, str]) -> None:
    page = text_of(html["en"])
    assert "Attempt timeout 8s" in page and "Whole-request timeout 30s" in page and "Hedging after 2s" in page
    assert "Stream recovery off (idle timeout 30s)" in page
    assert "Worst wait before the last fallback 16s" in page
    assert "Degraded mode none configured" in page
    assert "Routes without a process" in page
    assert "Hysteresis 3 worse evaluations before a status drops, 10 better ones before it comes back" in page
    assert "Automatic resolution after 5m" in page and "Slowness 5s" in page
    assert "Probes model list every 30s, timeout 10s" in page
    assert "claude: one-token completion every 2m, timeout 10s" in page
    assert "openai (status.openai.com), every 1m" in page
    assert "signed webhook to: hooks.example.com" in page
    assert "notification: mailtos" in page and "notification: slack" in page
    assert "https://status.example.com/acme/status" in page
    assert "Relève's state PostgreSQL" in page
    assert "Backups and restore drills not configured yet (a later release adds them)" in page
    french = text_of(html["fr"])
    assert "Mode dégradé aucun configuré" in french and "État de Relève PostgreSQL" in french


def test_no_secret_reaches_the_plan(html: dict[str, str]) -> None:
    """Keys, webhook secrets, tokens in notification URLs, database and URL passwords: none of them, in any form."""
    for language, page in html.items():
        for secret in SECRETS:
            assert secret not in page, f"{secret} in the {language} plan"
        assert "SECRET" not in page
        assert "?token=" not in page and "pw@" not in page


def test_every_language_has_the_same_labels() -> None:
    assert set(LABELS) == set(PLAN_LANGUAGES)
    assert LABELS["fr"].keys() == LABELS["en"].keys()


def test_an_unknown_language_is_refused(plan: Plan) -> None:
    with pytest.raises(ValueError, match="language 'de'"):
        render_plan(plan, "de")


def test_names_in_the_config_are_escaped() -> None:
    config = parse_config("""
auth: none
providers: {a: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes: {chat: {targets: [{provider: a, model: "<b>m</b>"}]}}
processes: {p: {name: "<script>alert(1)</script>", routes: [chat], owner: "A & B"}}
""", {})
    page = render_plan(continuity_plan(config, config_path="x", now=NOW), "en")
    assert "<script>" not in page and "&lt;script&gt;" in page and "A &amp; B" in page
