"""Every word reports say, in French and English, and the number, money, duration and date formats they use.

A dict per language, as on the status page (reports may not import `status`): two languages and a
hundred strings do not need a catalogue toolchain. Money is written the same way in both languages,
amount then currency code ("1 234,50 EUR", "1,234.50 EUR"), as in the formulas reports print.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from releve.store import INCIDENT_STATUS_WORDS, IncidentStatus

__all__ = ["INCIDENT_STATUS", "LABELS", "METHOD_FR", "format_count", "format_datetime", "format_day",
           "format_duration", "format_hours", "format_money", "format_number", "format_percent", "format_rate",
           "format_tick", "label"]

_NBSP = "\u00a0"
_NNBSP = "\u202f"   # French thousands separator and the space before %

_FR: dict[str, str] = {
    "incident_title": "Rapport post-incident : {name}",
    "period_title": "Rapport de la période du {since} au {until}",
    "so_far_title": "(à ce stade)",
    "so_far": "Incident toujours en cours : chiffres à ce stade, jusqu’au {now}.",
    "generated": "Rapport établi le {at} par Relève. Heures en UTC.",
    "summary": "En bref",
    "interval": "Période analysée",
    "interval_value": "du {start} au {end} ({duration})",
    "status": "État",
    "impact": "Impact",
    "detection": "Délai de détection",
    "detection_value": "{duration} (panne à {start}, incident ouvert à {detected})",
    "detection_unknown": "inconnu : le début de la panne n’a pas été enregistré",
    "recovery": "Délai de rétablissement",
    "recovery_recovered": "{duration} (service rétabli le {at})",
    "recovery_resolved": "{duration} (jusqu’à la résolution le {at} ; retour à la normale non enregistré)",
    "recovery_so_far": "{duration} à ce stade (service pas encore rétabli)",
    "cost_incurred": "Coût subi",
    "cost_avoided": "Coût évité par la bascule",
    "cost_avoided_short": "Coût évité",
    "timeline": "Chronologie",
    "time": "Heure",
    "event": "Événement",
    "details": "Détail",
    "ev_started": "Début de la panne (premier signal défavorable)",
    "ev_detected": "Incident ouvert par Relève (détection) – {status}",
    "ev_opened": "Incident ouvert – {status}",
    "ev_update": "Mise à jour – {status}",
    "ev_recovered": "Service rétabli : tous les composants sont opérationnels",
    "ev_report": "Rapport établi (incident toujours en cours)",
    "processes": "Processus métier",
    "no_processes": "Aucun processus métier n’est concerné.",
    "process": "Processus",
    "requests": "Requêtes",
    "primary": "Choix principal",
    "fallback": "Secours (bascule)",
    "degraded": "Mode dégradé",
    "deferred": "Différées",
    "failed": "Échec",
    "total": "Total",
    "lost_hours": "Heures perdues",
    "availability": "Disponibilité",
    "rto": "RTO",
    "rto_met": "respecté ({recovery} pour un RTO de {rto})",
    "rto_missed": "dépassé de {by} ({recovery} pour un RTO de {rto})",
    "rto_pending": "pas encore dépassé ({recovery} à ce stade pour un RTO de {rto})",
    "rto_missed_so_far": "déjà dépassé de {by} ({recovery} à ce stade pour un RTO de {rto})",
    "rto_none": "pas de RTO défini",
    "personal_data": "données personnelles",
    "criticality": "criticité {value}",
    "crit_low": "faible", "crit_medium": "moyenne", "crit_high": "élevée", "crit_critical": "critique",
    "owner": "responsable : {value}",
    "figures": "Comment chaque chiffre est obtenu",
    "f_requests": "{total} requêtes = {served} choix principal + {fallback} secours + {degraded} mode dégradé "
                  "+ {deferred} différées + {failed} échec",
    "f_time": "{traffic} min avec trafic ({traffic_h} h) + {quiet} min sans trafic ({quiet_h} h)",
    "f_loss": "Part perdue = ({failed} échecs + {weight} × ({degraded} dégradées + {deferred} différées)) / {total} "
              "requêtes = {value}",
    "f_saved": "Part sauvée = {fallback} secours / {total} requêtes = {value}",
    "f_lost_hours": "Heures perdues = {loss} × {traffic_h} h avec trafic + {quiet_lost_h} h (état, minutes sans "
                    "trafic) = {value}",
    "f_saved_hours": "Heures sauvées = {saved} × {traffic_h} h avec trafic = {value}",
    "f_productivity": "Perte de productivité = {users} utilisateurs × {rate}/h × {hours} = {value}",
    "f_revenue": "Perte de chiffre d’affaires = {rate}/h × {hours} = {value}",
    "f_avoided_productivity": "Productivité préservée = {users} utilisateurs × {rate}/h × {hours} = {value}",
    "f_avoided_revenue": "Chiffre d’affaires préservé = {rate}/h × {hours} = {value}",
    "f_loss_total": "Coût subi = {productivity} + {revenue} = {value}",
    "f_avoided_total": "Coût évité = {productivity} + {revenue} = {value}",
    "f_availability": "Disponibilité = 1 − {lost} / {hours} = {value}",
    "charts": "Graphiques",
    "chart_requests": "Requêtes de {name} par tranche de {bucket}",
    "chart_requests_alt": "Requêtes de {name} par tranche de {bucket}, du {start} au {end}, {bars} barres : "
                          "{served} au choix principal, {fallback} au secours, {degraded} en mode dégradé, "
                          "{deferred} différées, {failed} en échec.",
    "chart_peak": " Le plus d’échecs : {count} à partir de {at}.",
    "chart_no_traffic": "Aucune requête enregistrée pour {name} sur la période.",
    "chart_cost": "Coût cumulé",
    "chart_cost_alt": "Coût cumulé du {start} au {end} : {loss} subis, {avoided} évités par la bascule.",
    "chart_see_pdf": "Graphique (voir la version HTML ou PDF)",
    "axis_time": "Heure (UTC)",
    "axis_requests": "requêtes",
    "axis_money": "{currency} cumulés",
    "incidents": "Incidents de la période",
    "no_incidents": "Aucun incident sur la période.",
    "incident": "Incident",
    "started": "Début",
    "open_so_far": "non résolu",
    "incidents_truncated": "Seuls les {count} incidents les plus récents sont listés.",
    "gdpr": "Données personnelles (RGPD)",
    "gdpr_text": "{name} traite des données personnelles et a été indisponible ({lost} perdues, {failed} requêtes "
                 "en échec). Une indisponibilité de données personnelles peut constituer une violation de "
                 "données (RGPD, art. 4.12). Évaluez s’il faut la notifier à l’autorité de contrôle (la CNIL en "
                 "France) avant le {deadline}, soit 72 heures après la prise de connaissance : la détection de "
                 "l’incident {incident} par Relève le {aware} (RGPD, art. 33). Documentez cette évaluation dans "
                 "tous les cas (art. 33.5).",
    "gdpr_no_incident": "{name} traite des données personnelles et a été indisponible ({lost} perdues, {failed} "
                        "requêtes en échec) sans qu’aucun incident ne soit enregistré. Une indisponibilité de "
                        "données personnelles peut constituer une violation de données (RGPD, art. 4.12) : "
                        "évaluez s’il faut la notifier à l’autorité de contrôle dans les 72 heures suivant la "
                        "prise de connaissance (RGPD, art. 33), et documentez cette évaluation (art. 33.5).",
    "pd": "Données personnelles pendant l’incident",
    "pd_same": "Les données personnelles ne sont allées que là où elles allaient déjà avant l’incident : {flows}.",
    "pd_new": "Des données personnelles sont allées vers une nouvelle destination pendant l’incident : {flows}.",
    "pd_none": "Aucune requête avec des données personnelles sur ces routes ({routes}) pendant l’incident.",
    "pd_flow": "{target} ({form}, région {region}) : {requests}",
    "pd_join": " ; ",
    "pd_requests_one": "{count} requête",
    "pd_requests_many": "{count} requêtes",
    "pd_form_as is": "en clair",
    "pd_form_pseudonymized": "pseudonymisées",
    "pd_region_unknown": "inconnue",
    "pd_summary": "Requêtes avec des données personnelles sur {routes} : {requests} ; refusées par la politique de "
                  "données : {refused} ; régions : {regions}.",
    "pd_compared": "Comparé à la même durée juste avant l’incident, du {start} au {end} ; « nouveau » : cette "
                   "cible n’avait pas reçu de données personnelles de ces routes sous cette forme.",
    "pd_skipped": "Cibles écartées par la politique de données : {targets}.",
    "pd_identifiers": "Identifiants détectés : {kinds}.",
    "pd_target": "Cible",
    "pd_form": "Forme",
    "pd_region": "Région",
    "pd_during": "Pendant",
    "pd_before": "Avant",
    "pd_is_new": "Nouveau",
    "pd_yes": "oui",
    "pd_no": "non",
    "warning": "Attention",
    "method": "Méthode",
    "users": "utilisateurs",
}

_EN: dict[str, str] = {
    "incident_title": "Post-incident report: {name}",
    "period_title": "Report for {since} to {until}",
    "so_far_title": "(so far)",
    "so_far": "Incident still open: figures so far, up to {now}.",
    "generated": "Report written on {at} by Relève. Times are in UTC.",
    "summary": "Summary",
    "interval": "Interval analysed",
    "interval_value": "from {start} to {end} ({duration})",
    "status": "Status",
    "impact": "Impact",
    "detection": "Time to detect",
    "detection_value": "{duration} (failure at {start}, incident opened at {detected})",
    "detection_unknown": "unknown: the failure's start was not recorded",
    "recovery": "Time to recover",
    "recovery_recovered": "{duration} (service recovered on {at})",
    "recovery_resolved": "{duration} (until resolved on {at}; recovery itself not recorded)",
    "recovery_so_far": "{duration} so far (service not recovered yet)",
    "cost_incurred": "Cost incurred",
    "cost_avoided": "Cost avoided by failover",
    "cost_avoided_short": "Cost avoided",
    "timeline": "Timeline",
    "time": "Time",
    "event": "Event",
    "details": "Details",
    "ev_started": "Failure began (first bad signal)",
    "ev_detected": "Incident opened by Relève (detection) – {status}",
    "ev_opened": "Incident opened – {status}",
    "ev_update": "Update – {status}",
    "ev_recovered": "Service recovered: every component operational",
    "ev_report": "Report written (incident still open)",
    "processes": "Business processes",
    "no_processes": "No business process is affected.",
    "process": "Process",
    "requests": "Requests",
    "primary": "Primary",
    "fallback": "Fallback",
    "degraded": "Degraded",
    "deferred": "Deferred",
    "failed": "Failed",
    "total": "Total",
    "lost_hours": "Hours lost",
    "availability": "Availability",
    "rto": "RTO",
    "rto_met": "met ({recovery} against an RTO of {rto})",
    "rto_missed": "missed by {by} ({recovery} against an RTO of {rto})",
    "rto_pending": "not exceeded yet ({recovery} so far against an RTO of {rto})",
    "rto_missed_so_far": "already missed by {by} ({recovery} so far against an RTO of {rto})",
    "rto_none": "no RTO set",
    "personal_data": "personal data",
    "criticality": "criticality {value}",
    "crit_low": "low", "crit_medium": "medium", "crit_high": "high", "crit_critical": "critical",
    "owner": "owner: {value}",
    "figures": "How each figure is obtained",
    "f_requests": "{total} requests = {served} primary + {fallback} fallback + {degraded} degraded + {deferred} "
                  "deferred + {failed} failed",
    "f_time": "{traffic} min with traffic ({traffic_h} h) + {quiet} min without traffic ({quiet_h} h)",
    "f_loss": "Loss fraction = ({failed} failed + {weight} × ({degraded} degraded + {deferred} deferred)) / {total} "
              "requests = {value}",
    "f_saved": "Saved fraction = {fallback} fallback / {total} requests = {value}",
    "f_lost_hours": "Hours lost = {loss} × {traffic_h} h with traffic + {quiet_lost_h} h (status, minutes without "
                    "traffic) = {value}",
    "f_saved_hours": "Hours saved = {saved} × {traffic_h} h with traffic = {value}",
    "f_productivity": "Productivity loss = {users} users × {rate}/h × {hours} = {value}",
    "f_revenue": "Revenue loss = {rate}/h × {hours} = {value}",
    "f_avoided_productivity": "Productivity saved = {users} users × {rate}/h × {hours} = {value}",
    "f_avoided_revenue": "Revenue saved = {rate}/h × {hours} = {value}",
    "f_loss_total": "Cost incurred = {productivity} + {revenue} = {value}",
    "f_avoided_total": "Cost avoided = {productivity} + {revenue} = {value}",
    "f_availability": "Availability = 1 − {lost} / {hours} = {value}",
    "charts": "Charts",
    "chart_requests": "Requests of {name} per {bucket}",
    "chart_requests_alt": "Requests of {name} per {bucket}, from {start} to {end}, {bars} bars: {served} served by "
                          "the primary, {fallback} by a fallback, {degraded} degraded, {deferred} deferred, "
                          "{failed} failed.",
    "chart_peak": " Most failures: {count} from {at}.",
    "chart_no_traffic": "No requests recorded for {name} in the interval.",
    "chart_cost": "Cumulative cost",
    "chart_cost_alt": "Cumulative cost from {start} to {end}: {loss} incurred, {avoided} avoided by failover.",
    "chart_see_pdf": "Chart (see the HTML or PDF version)",
    "axis_time": "Time (UTC)",
    "axis_requests": "requests",
    "axis_money": "{currency}, cumulative",
    "incidents": "Incidents in the period",
    "no_incidents": "No incidents in the period.",
    "incident": "Incident",
    "started": "Started",
    "open_so_far": "open",
    "incidents_truncated": "Only the {count} most recent incidents are listed.",
    "gdpr": "Personal data (GDPR)",
    "gdpr_text": "{name} processes personal data and was unavailable ({lost} lost, {failed} failed requests). "
                 "Personal data made unavailable may be a personal data breach (GDPR Art. 4(12)). Assess whether "
                 "to notify the supervisory authority by {deadline}: 72 hours after becoming aware, when Relève "
                 "detected incident {incident} on {aware} (GDPR Art. 33). Record the assessment either way "
                 "(Art. 33(5)).",
    "gdpr_no_incident": "{name} processes personal data and was unavailable ({lost} lost, {failed} failed "
                        "requests) while no incident was recorded. Personal data made unavailable may be a personal "
                        "data breach (GDPR Art. 4(12)): assess whether to notify the supervisory authority within 72 "
                        "hours of becoming aware of it (GDPR Art. 33), and record the assessment (Art. 33(5)).",
    "pd": "Personal data during the incident",
    "pd_same": "Personal data went only where it already went before the incident: {flows}.",
    "pd_new": "Personal data went somewhere new during the incident: {flows}.",
    "pd_none": "No request with personal data on these routes ({routes}) during the incident.",
    "pd_flow": "{target} ({form}, region {region}): {requests}",
    "pd_join": "; ",
    "pd_requests_one": "{count} request",
    "pd_requests_many": "{count} requests",
    "pd_form_as is": "as is",
    "pd_form_pseudonymized": "pseudonymized",
    "pd_region_unknown": "unknown",
    "pd_summary": "Requests carrying personal data on {routes}: {requests}; refused by the data policy: {refused}; "
                  "regions: {regions}.",
    "pd_compared": "Compared with the same length of time just before the incident, from {start} to {end}; "
                   "“new”: that target had not received these routes' personal data in that form.",
    "pd_skipped": "Targets the data policy kept requests from: {targets}.",
    "pd_identifiers": "Identifiers detected: {kinds}.",
    "pd_target": "Target",
    "pd_form": "Form",
    "pd_region": "Region",
    "pd_during": "During",
    "pd_before": "Before",
    "pd_is_new": "New",
    "pd_yes": "yes",
    "pd_no": "no",
    "warning": "Warning",
    "method": "Method",
    "users": "users",
}

LABELS: dict[str, dict[str, str]] = {"fr": _FR, "en": _EN}

INCIDENT_STATUS: dict[IncidentStatus, dict[str, str]] = {
    status: {"fr": words.fr.lower(), "en": words.en.lower()} for status, words in INCIDENT_STATUS_WORDS.items()}

# The cost model of `_cost.py`'s docstring, in French (the English is quoted from the docstring itself).
METHOD_FR = """\
Sur une période, comptée en minutes UTC entières :

- minutes **avec trafic** (les routes du processus ont reçu des requêtes) : la part perdue est la part des
  requêtes en échec, plus `degraded_weight` fois la part servie en mode dégradé (cache, réponse statique) ou
  différée (acceptée avec une tâche, servie en retard) : `perte = (échecs + w × (dégradées + différées)) / total` ;
  la part sauvée est celle qu’un secours a servie : `sauvée = secours / total` ;
- minutes **sans trafic** : l’état du processus en tient lieu, pondéré par sa durée : panne majeure 1,
  panne partielle 0,3 (la pondération de Statuspage), tout autre état 0.

Heures perdues = perte × heures avec trafic + Σ perte d’état × heures sans trafic ; heures sauvées = part
sauvée × heures avec trafic. Perte de productivité = utilisateurs × coût horaire × heures perdues ; perte de
chiffre d’affaires = chiffre d’affaires horaire × heures perdues ; les pertes évitées appliquent les mêmes
formules aux heures sauvées.
"""

_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_UNITS = {"fr": ("j", "h", "min", "s"), "en": ("d", "h", "min", "s")}


def label(key: str, language: str, **values: object) -> str:
    text = LABELS[language][key]
    return text.format(**values) if values else text


def format_number(value: float, language: str, decimals: int = 0) -> str:
    """`1 234,50` (narrow no-break spaces) / `1,234.50`."""
    text = f"{value:,.{decimals}f}"
    if language == "fr":
        text = text.replace(",", _NNBSP).replace(".", ",")
    return text


def format_count(value: int, language: str) -> str:
    return format_number(value, language)


def format_money(value: float, currency: str, language: str) -> str:
    """Amount, then currency code, in both languages: `1 234,50 EUR` / `1,234.50 EUR`."""
    return f"{format_number(value, language, 2)}{_NBSP}{currency}"


def format_rate(value: float, currency: str, language: str) -> str:
    """A configured rate as written in the config: `35 EUR` (no decimals when whole), `35,50 EUR`, `0,1234 EUR`."""
    decimals = next((d for d in (0, 2) if round(value, d) == value), 4)
    return f"{format_number(value, language, decimals)}{_NBSP}{currency}"


def format_hours(value: float, language: str) -> str:
    """Four decimals: a minute is 0.0167 h, and formulas must show the figure they multiply."""
    return f"{format_number(value, language, 4)}{_NBSP}h"


def format_percent(ratio: float, language: str) -> str:
    """Two decimals, rounded down so that 99.999 % never shows as a perfect 100 %."""
    hundredths = math.floor(ratio * 10000 + 1e-9) / 100
    text = format_number(hundredths, language, 2)
    return f"{text}{_NNBSP}%" if language == "fr" else f"{text}%"


def format_duration(seconds: float, language: str) -> str:
    """Two units at most, to the second: `45 s`, `3 min 20 s`, `1 h 5 min`, `2 j 3 h` / `2 d 3 h`."""
    day, hour, minute, second = _UNITS[language]
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, day), (hours, hour), (minutes, minute), (secs, second)]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    shown = [f"{amount}{_NBSP}{unit}" for amount, unit in parts[:2] if amount or unit == parts[0][1]]
    return " ".join(shown)


def format_datetime(moment: datetime, language: str, *, seconds: bool = False) -> str:
    """A moment in UTC: `27 nov. 2026, 14:05 UTC` / `Nov 27, 2026, 14:05 UTC` (with `:20` seconds if asked)."""
    utc = moment.astimezone(UTC)
    month = _MONTHS[language][utc.month - 1]
    day = f"{utc.day} {month} {utc.year}" if language == "fr" else f"{month} {utc.day}, {utc.year}"
    clock = f"{utc:%H:%M:%S}" if seconds else f"{utc:%H:%M}"
    return f"{day}, {clock} UTC"


def format_day(moment: datetime, language: str) -> str:
    utc = moment.astimezone(UTC)
    month = _MONTHS[language][utc.month - 1]
    return f"{utc.day} {month} {utc.year}" if language == "fr" else f"{month} {utc.day}, {utc.year}"


def format_tick(moment: datetime, language: str, *, with_day: bool) -> str:
    """A chart's axis label: `14:05`, or `27 nov. 14:05` / `Nov 27 14:05` when the chart spans days."""
    utc = moment.astimezone(UTC)
    if not with_day:
        return f"{utc:%H:%M}"
    month = _MONTHS[language][utc.month - 1]
    day = f"{utc.day} {month}" if language == "fr" else f"{month} {utc.day}"
    return f"{day} {utc:%H:%M}"
