"""What the continuity plan says, in French and in English, and how it writes numbers, dates and durations.

One dict per language with the same keys (a test checks it): the template reads `t.key` under
StrictUndefined, so a label missing in one language fails loudly instead of printing nothing.
Findings stay in English, as `releve check` prints them; the French plan says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from releve.config import format_duration

__all__ = ["LABELS", "PLAN_LANGUAGES", "formatters"]

PLAN_LANGUAGES = ("fr", "en")

_FR = {
    "kicker": "PCA / PRA",
    "title": "Plan de continuité et de reprise d'activité",
    "running_title": "PCA/PRA des fonctions IA — Relève",
    "subtitle": "Fonctions d'IA servies par la passerelle Relève : ce qui en dépend, ce qui prend le relais, "
                "qui est prévenu.",
    "generated_from": "Établi à partir de",
    "generated_at": "le",
    "findings_count": "constat(s)",
    "warnings_count": "avertissement(s)",
    "scope": "Périmètre",
    "scope_intro": "Ce plan couvre les processus métier qui utilisent des modèles d'IA au travers de Relève, les "
                   "routes qu'ils appellent et les fournisseurs derrière ces routes. Il est produit à partir de la "
                   "configuration : il décrit ce qui est réellement en place.",
    "processes": "Processus métier",
    "routes": "Routes",
    "providers": "Fournisseurs",
    "no_processes": "Aucun processus métier n'est déclaré : ajoutez processes: à releve.yaml (utilisateurs, "
                    "coûts, RTO, RPO, données personnelles) pour que l'analyse d'impact ait un contenu.",
    "unattached": "Routes utilisées par aucun processus :",
    "scope_excludes": "Hors périmètre : les applications clientes elles-mêmes, l'hébergement de Relève et les "
                      "fournisseurs au-delà de leur point d'accès.",
    "bia": "Analyse d'impact sur l'activité (BIA)",
    "bia_intro": "Pour chaque processus : son importance, ce que coûte une heure d'interruption et les objectifs "
                 "de reprise.",
    "process": "Processus",
    "criticality": "Criticité",
    "users": "Utilisateurs",
    "hourly_cost": "Coût / utilisateur / h",
    "revenue_per_hour": "Chiffre d'affaires / h",
    "outage_cost": "Coût d'1 h d'arrêt",
    "personal_data": "Données personnelles",
    "owner": "Responsable",
    "contacts": "Contacts",
    "criticality_low": "faible",
    "criticality_medium": "moyenne",
    "criticality_high": "élevée",
    "criticality_critical": "critique",
    "yes": "oui",
    "no": "non",
    "bia_legend": "Coût d'1 h d'arrêt = utilisateurs × coût horaire + chiffre d'affaires par heure. RTO : durée "
                  "d'interruption admise ; RPO : perte de données admise ; MTD : interruption maximale "
                  "tolérable. « — » : non renseigné.",
    "dependencies": "Cartographie des dépendances",
    "dependencies_intro": "Chaque processus appelle des routes ; chaque route essaie ses fournisseurs dans l'ordre.",
    "diagram_legend": "Trait plein : premier fournisseur essayé ; pointillés : relais. Couleur du fournisseur : "
                      "vert, données personnelles autorisées ; orange, après pseudonymisation ; rouge, non "
                      "autorisées.",
    "diagram_text": "Version texte du schéma",
    "diagram_title": "Processus, routes et fournisseurs",
    "col_processes": "Processus",
    "col_routes": "Routes",
    "col_providers": "Fournisseurs",
    "uses": "Le processus {process} utilise : {routes}.",
    "tries": "La route {route} essaie dans l'ordre : {chain}.",
    "provider_line": "Fournisseur {name} : région {region}, données personnelles {policy}.",
    "diagram_policy_allowed": "données perso. autorisées",
    "diagram_policy_refused": "données perso. non autorisées",
    "diagram_policy_pseudonymized": "données pseudonymisées seulement",
    "provider": "Fournisseur",
    "kind": "Type",
    "host": "Hôte",
    "region": "région",
    "region_header": "Région",
    "personal_data_policy": "Données personnelles",
    "status_feed": "Page d'état",
    "unknown": "non précisée",
    "policy_allowed": "autorisées",
    "policy_refused": "non autorisées",
    "policy_pseudonymized": "après pseudonymisation",
    "data_destinations": "Où peuvent aller les données personnelles",
    "data_destinations_intro": "Pour chaque processus qui traite des données personnelles : chaque cible de ses "
                               "routes, sa région, et sous quelle forme elle peut recevoir une requête qui en "
                               "contient. Une cible marquée « jamais » est écartée par la politique de données : "
                               "même en panne de toutes les autres, Relève ne lui envoie pas ces requêtes.",
    "no_data_destinations": "Aucun processus ne déclare de données personnelles.",
    "target": "Cible",
    "form": "Forme",
    "form_as-is": "telles quelles",
    "form_pseudonymized": "pseudonymisées",
    "form_refused": "jamais : refusées (le fournisseur ne peut pas en recevoir)",
    "form_region": "jamais : refusées (région absente des allowed_regions de la route)",
    "failover": "Bascule",
    "failover_intro": "Quand un fournisseur échoue, Relève passe au suivant dans l'ordre ci-dessous, sans que "
                      "les applications changent quoi que ce soit.",
    "unattached_title": "Routes sans processus",
    "route": "Route",
    "weight": "poids",
    "primary": "premier essayé",
    "fallback": "relais",
    "strategy": "Stratégie",
    "strategy_priority": "priorité (toujours dans l'ordre)",
    "strategy_weighted": "pondérée (le premier est tiré selon les poids, les autres suivent)",
    "attempt_timeout": "Délai par tentative",
    "timeout": "Délai total de la requête",
    "retries": "Nouveaux passages",
    "backoff": "attente",
    "hedging": "Requête doublée",
    "hedging_off": "non",
    "hedging_p95": "au 95e centile du temps de réponse observé",
    "hedging_after": "après",
    "stream_recovery": "Reprise des flux",
    "on": "oui",
    "off": "non",
    "stream_idle": "silence toléré",
    "breaker": "Disjoncteur",
    "breaker_text": "écarte un fournisseur après {failures} échecs de suite, pendant {open_for}",
    "failover_wait": "Attente maximale avant le dernier relais",
    "no_fallback": "sans objet : aucun relais",
    "degraded_mode": "Mode dégradé",
    "degraded_none": "aucun configuré (une version ultérieure ajoute cache, réponses différées ou statiques)",
    "detection": "Détection et communication",
    "detection_title": "Détection",
    "monitor_off": "La surveillance est désactivée : ni sondes, ni incidents automatiques.",
    "evaluate_every": "Évaluation",
    "every": "toutes les",
    "window": "Fenêtre d'observation",
    "min_samples": "au moins {n} tentatives pour juger",
    "rates": "Seuils d'échec",
    "rates_text": "panne partielle à {partial}, panne majeure à {major}",
    "slow_after": "Lenteur",
    "not_set": "non configuré",
    "hysteresis": "Hystérésis",
    "hysteresis_text": "{down} évaluations défavorables pour dégrader un état, {up} favorables pour le rétablir",
    "resolve_after": "Résolution automatique après",
    "probes": "Sondes",
    "probe_text": "{request} toutes les {every}, délai {timeout}",
    "probe_models": "liste des modèles",
    "probe_completion": "complétion d'un jeton",
    "probe_none": "aucune sonde",
    "status_feeds": "Pages d'état des fournisseurs",
    "probe_overrides": "Sondes propres à certains fournisseurs :",
    "communication": "Communication",
    "channels_intro": "À chaque ouverture, mise à jour et résolution d'incident, sont prévenus :",
    "channel_apprise": "notification",
    "channel_webhook": "webhook signé vers",
    "no_channels": "Personne n'est prévenu : aucune URL notify ni webhook n'est configuré.",
    "status_page": "Page d'état publique",
    "status_page_local": "servie par Relève sous /status (aucune adresse publique configurée)",
    "manual_incidents": "Incidents manuels : releve incident open|update|resolve sur la machine.",
    "admin_keys": "API d'administration ouverte aux clés :",
    "no_admin_keys": "Aucune clé d'administration : l'API d'administration est fermée.",
    "recovery": "Reprise",
    "recovery_intro": "Quand le fournisseur revient, une requête d'essai referme son disjoncteur ; l'état redevient "
                      "opérationnel après {up} évaluations favorables, et l'incident se résout seul après {resolve}.",
    "state": "État de Relève",
    "storage_sqlite_file": "fichier SQLite",
    "storage_sqlite_memory": "SQLite en mémoire (perdu à l'arrêt)",
    "storage_postgresql": "PostgreSQL",
    "state_contents": "Contenu",
    "state_contents_text": "incidents, états des composants, disponibilité, file des notifications",
    "backups": "Sauvegardes et exercices de restauration",
    "backups_none": "pas encore configurés (une version ultérieure les ajoute)",
    "findings": "Constats",
    "findings_intro": "Les points faibles relevés par releve check (messages en anglais, tels que la commande "
                      "les affiche).",
    "severity": "Gravité",
    "where": "Où",
    "message": "Constat",
    "severity_warning": "avertissement",
    "severity_info": "information",
    "no_findings": "Aucun constat.",
    "footer": "Document produit par Relève (releve plan) le",
}

_EN = {
    "kicker": "BCP / DRP",
    "title": "Business continuity and disaster recovery plan",
    "running_title": "AI features continuity plan — Relève",
    "subtitle": "AI features served through the Relève gateway: what depends on them, what takes over, "
                "who is told.",
    "generated_from": "Generated from",
    "generated_at": "on",
    "findings_count": "finding(s)",
    "warnings_count": "warning(s)",
    "scope": "Scope",
    "scope_intro": "This plan covers the business processes that use AI models through Relève, the routes they "
                   "call and the providers behind those routes. It is generated from the configuration: it "
                   "describes what is actually in place.",
    "processes": "Business processes",
    "routes": "Routes",
    "providers": "Providers",
    "no_processes": "No business process is declared: add processes: to releve.yaml (users, costs, RTO, RPO, "
                    "personal data) to give the impact analysis its content.",
    "unattached": "Routes used by no process:",
    "scope_excludes": "Out of scope: the client applications themselves, the hosting of Relève, and the providers "
                      "beyond their endpoints.",
    "bia": "Business impact analysis (BIA)",
    "bia_intro": "For each process: how much it matters, what an hour of interruption costs, and the recovery "
                 "objectives.",
    "process": "Process",
    "criticality": "Criticality",
    "users": "Users",
    "hourly_cost": "Cost / user / h",
    "revenue_per_hour": "Revenue / h",
    "outage_cost": "Cost of 1 h down",
    "personal_data": "Personal data",
    "owner": "Owner",
    "contacts": "Contacts",
    "criticality_low": "low",
    "criticality_medium": "medium",
    "criticality_high": "high",
    "criticality_critical": "critical",
    "yes": "yes",
    "no": "no",
    "bia_legend": "Cost of 1 h down = users × hourly cost + revenue per hour. RTO: how long it may be down; "
                  "RPO: how much recent data it may lose; MTD: maximum tolerable downtime. \"—\": not given.",
    "dependencies": "Dependency map",
    "dependencies_intro": "Each process calls routes; each route tries its providers in order.",
    "diagram_legend": "Solid line: the provider tried first; dashed: fallbacks. Provider colour: green, personal "
                      "data allowed; orange, after pseudonymisation; red, not allowed.",
    "diagram_text": "Text version of the diagram",
    "diagram_title": "Processes, routes and providers",
    "col_processes": "Processes",
    "col_routes": "Routes",
    "col_providers": "Providers",
    "uses": "Process {process} uses: {routes}.",
    "tries": "Route {route} tries, in order: {chain}.",
    "provider_line": "Provider {name}: region {region}, personal data {policy}.",
    "diagram_policy_allowed": "personal data allowed",
    "diagram_policy_refused": "no personal data",
    "diagram_policy_pseudonymized": "pseudonymised data only",
    "provider": "Provider",
    "kind": "Kind",
    "host": "Host",
    "region": "region",
    "region_header": "Region",
    "personal_data_policy": "Personal data",
    "status_feed": "Status feed",
    "unknown": "not given",
    "policy_allowed": "allowed",
    "policy_refused": "not allowed",
    "policy_pseudonymized": "after pseudonymisation",
    "data_destinations": "Where personal data may go",
    "data_destinations_intro": "For each process that handles personal data: every target of its routes, its "
                               "region, and in which form it may receive a request that carries some. A target "
                               "marked “never” is skipped by the data policy: even when every other "
                               "target is down, Relève does not send it those requests.",
    "no_data_destinations": "No process declares personal data.",
    "target": "Target",
    "form": "Form",
    "form_as-is": "as is",
    "form_pseudonymized": "pseudonymized",
    "form_refused": "never: refused (the provider may not receive any)",
    "form_region": "never: refused (region not in the route's allowed_regions)",
    "failover": "Failover",
    "failover_intro": "When a provider fails, Relève moves on to the next one in the order below; applications "
                      "change nothing.",
    "unattached_title": "Routes without a process",
    "route": "Route",
    "weight": "weight",
    "primary": "tried first",
    "fallback": "fallback",
    "strategy": "Strategy",
    "strategy_priority": "priority (always in order)",
    "strategy_weighted": "weighted (the first is drawn by weight, the others follow)",
    "attempt_timeout": "Attempt timeout",
    "timeout": "Whole-request timeout",
    "retries": "Retries",
    "backoff": "backoff",
    "hedging": "Hedging",
    "hedging_off": "off",
    "hedging_p95": "at the observed 95th percentile response time",
    "hedging_after": "after",
    "stream_recovery": "Stream recovery",
    "on": "on",
    "off": "off",
    "stream_idle": "idle timeout",
    "breaker": "Circuit breaker",
    "breaker_text": "takes a provider out after {failures} failures in a row, for {open_for}",
    "failover_wait": "Worst wait before the last fallback",
    "no_fallback": "not applicable: no fallback",
    "degraded_mode": "Degraded mode",
    "degraded_none": "none configured (a later release adds cached, deferred and static answers)",
    "detection": "Detection and communication",
    "detection_title": "Detection",
    "monitor_off": "The monitor is off: no probes, no automatic incidents.",
    "evaluate_every": "Evaluation",
    "every": "every",
    "window": "Observation window",
    "min_samples": "at least {n} attempts to judge",
    "rates": "Failure thresholds",
    "rates_text": "partial outage at {partial}, major outage at {major}",
    "slow_after": "Slowness",
    "not_set": "not configured",
    "hysteresis": "Hysteresis",
    "hysteresis_text": "{down} worse evaluations before a status drops, {up} better ones before it comes back",
    "resolve_after": "Automatic resolution after",
    "probes": "Probes",
    "probe_text": "{request} every {every}, timeout {timeout}",
    "probe_models": "model list",
    "probe_completion": "one-token completion",
    "probe_none": "no probe",
    "status_feeds": "Providers' status feeds",
    "probe_overrides": "Probes of their own for some providers:",
    "communication": "Communication",
    "channels_intro": "On every incident opened, updated and resolved, these are told:",
    "channel_apprise": "notification",
    "channel_webhook": "signed webhook to",
    "no_channels": "Nobody is told: no notify URL or webhook is configured.",
    "status_page": "Public status page",
    "status_page_local": "served by Relève at /status (no public address configured)",
    "manual_incidents": "Manual incidents: releve incident open|update|resolve on the machine.",
    "admin_keys": "Admin API open to the keys:",
    "no_admin_keys": "No admin keys: the admin API is off.",
    "recovery": "Recovery",
    "recovery_intro": "When the provider comes back, a trial request closes its breaker; the status is "
                      "operational again after {up} better evaluations, and the incident resolves itself after "
                      "{resolve}.",
    "state": "Relève's state",
    "storage_sqlite_file": "SQLite file",
    "storage_sqlite_memory": "SQLite in memory (lost when Relève stops)",
    "storage_postgresql": "PostgreSQL",
    "state_contents": "Contents",
    "state_contents_text": "incidents, component statuses, uptime, notification outbox",
    "backups": "Backups and restore drills",
    "backups_none": "not configured yet (a later release adds them)",
    "findings": "Findings",
    "findings_intro": "The weak points releve check reports.",
    "severity": "Severity",
    "where": "Where",
    "message": "Finding",
    "severity_warning": "warning",
    "severity_info": "info",
    "no_findings": "No findings.",
    "footer": "Document generated by Relève (releve plan) on",
}

LABELS: dict[str, dict[str, str]] = {"fr": _FR, "en": _EN}


def formatters(language: str) -> dict[str, Callable[..., str]]:
    """Number, percentage, duration, date and probe formatting for the template, in `language`'s habits."""
    labels = LABELS[language]

    def num(value: float) -> str:
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        return text.replace(",", "\u202f").replace(".", ",") if language == "fr" else text

    def pct(value: float) -> str:
        return f"{num(value * 100)}\u00a0%" if language == "fr" else f"{num(value * 100)}%"

    def duration(value: float | None) -> str:
        return "—" if value is None else format_duration(value)

    def date(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def probe(request: str, every: float, timeout: float) -> str:
        if request == "none":
            return labels["probe_none"]
        return labels["probe_text"].format(request=labels[f"probe_{request}"], every=format_duration(every),
                                           timeout=format_duration(timeout))

    return {"num": num, "pct": pct, "duration": duration, "date": date, "probe": probe}
