"""The continuity plan says, per process with personal data, where that data may go: target, region, form."""

from __future__ import annotations

import html
import re

from releve.config import parse_config
from releve.impact import continuity_plan, render_plan
from unit.impact._plan_support import CONFIG, NOW

CONFIG_WITH_REGIONS = """
auth: none
providers:
  mistral: {kind: openai-compatible, base_url: "https://api.mistral.ai/v1", region: eu, personal_data: true}
  openai: {kind: openai-compatible, base_url: "https://api.openai.com/v1", region: us, personal_data: pseudonymized}
  backup: {kind: openai-compatible, base_url: "https://llm.example.net/v1", region: us, personal_data: false}
  gcp: {kind: openai-compatible, base_url: "https://llm.example.org/v1", region: asia, personal_data: true}
routes:
  crm: {targets: [{provider: mistral, model: small}, {provider: openai, model: mini}, {provider: backup, model: big}]}
  eu-only:
    allowed_regions: [eu]
    targets: [{provider: mistral, model: large}, {provider: openai, model: mini}]
  tagged: {data: personal, targets: [{provider: gcp, model: g}, {provider: mistral, model: small}]}
  plain: {targets: [{provider: backup, model: big}]}
processes:
  crm:
    name: {fr: Relation client, en: Customer relations}
    routes: [crm, eu-only]
    personal_data: true
  marketing: {routes: [tagged, plain]}
  internal: {routes: [plain]}
"""


def rows(page: str, process: str) -> list[list[str]]:
    """The cells of one process's table in the "where personal data may go" section, as text."""
    section = page.split('<h3 id="personal-data">')[1].split("</section>")[0]
    table = section.split(f"<h4>{process}</h4>")[1].split("</table>")[0]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", "", cell)).split()) for cell in row] for row in cells if row]


def test_each_personal_process_lists_its_targets_with_region_and_form() -> None:
    plan = continuity_plan(parse_config(CONFIG_WITH_REGIONS, {}), config_path="x", now=NOW)
    crm, marketing, internal = plan.processes
    assert [(d.route, d.provider, d.model, d.region, d.form) for d in crm.data_destinations] == [
        ("crm", "mistral", "small", "eu", "as-is"), ("crm", "openai", "mini", "us", "pseudonymized"),
        ("crm", "backup", "big", "us", "refused"),
        ("eu-only", "mistral", "large", "eu", "as-is"), ("eu-only", "openai", "mini", "us", "region")]
    assert [d.never for d in crm.data_destinations] == [False, False, True, False, True]
    # Not declared personal, but one of its routes is: that route only.
    assert [(d.route, d.provider, d.form) for d in marketing.data_destinations] == [
        ("tagged", "gcp", "as-is"), ("tagged", "mistral", "as-is")]
    assert internal.data_destinations == ()

    english, french = render_plan(plan, "en"), render_plan(plan, "fr")
    assert "Where personal data may go" in english and "Où peuvent aller les données personnelles" in french
    assert rows(english, "Customer relations") == [
        ["crm", "mistral / small", "eu", "as is"],
        ["crm", "openai / mini", "us", "pseudonymized"],
        ["crm", "backup / big", "us", "never: refused (the provider may not receive any)"],
        ["eu-only", "mistral / large", "eu", "as is"],
        ["eu-only", "openai / mini", "us", "never: refused (region not in the route's allowed_regions)"],
    ]
    assert rows(french, "Relation client") == [
        ["crm", "mistral / small", "eu", "telles quelles"],
        ["crm", "openai / mini", "us", "pseudonymisées"],
        ["crm", "backup / big", "us", "jamais : refusées (le fournisseur ne peut pas en recevoir)"],
        ["eu-only", "mistral / large", "eu", "telles quelles"],
        ["eu-only", "openai / mini", "us", "jamais : refusées (région absente des allowed_regions de la route)"],
    ]
    assert rows(english, "marketing") == [["tagged", "gcp / g", "asia", "as is"],
                                          ["tagged", "mistral / small", "eu", "as is"]]
    assert "<h4>internal</h4>" not in english.split('<h3 id="personal-data">')[1].split("</section>")[0]
    assert 'class="form-region"' in english and 'class="form-refused"' in english


def test_the_reference_plan_and_a_plan_without_personal_data() -> None:
    plan = continuity_plan(parse_config(CONFIG, {}), config_path="x", now=NOW)
    support = plan.processes[0]
    assert [(d.provider, d.region, d.form) for d in support.data_destinations] == [
        ("mistral", "eu", "as-is"), ("openai", "us", "refused"), ("local", "on-premises", "as-is")]
    assert plan.processes[1].data_destinations == ()

    bare = continuity_plan(parse_config(CONFIG_WITH_REGIONS.replace("    personal_data: true\n", "")
                                        .replace("data: personal, ", ""), {}), config_path="x", now=NOW)
    assert all(p.data_destinations == () for p in bare.processes)
    assert "No process declares personal data." in render_plan(bare, "en")
    assert "Aucun processus ne déclare de données personnelles." in render_plan(bare, "fr")
