"""What automatic incidents say, in French and English, built from the facts the monitor holds.

Customers should read what is affected, how badly, and what Relève is doing
about it ("traffic moved to mistral"), never a bare "we are investigating".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from releve.store import COMPONENT_STATUS_WORDS, ComponentStatus, Text

__all__ = ["Situation", "incident_name", "situation_body", "recovered_body", "resolved_body", "status_text"]



def status_text(status: ComponentStatus) -> Text:
    """The status as said inside a sentence: "panne majeure", "major outage"."""
    words = COMPONENT_STATUS_WORDS[status]
    return Text(words.fr.lower(), words.en.lower())


@dataclass(frozen=True, slots=True)
class Situation:
    """The facts of an outage at one moment."""

    affected: tuple[tuple[str, Text, ComponentStatus], ...]  # public components: id, name, status
    failing: tuple[tuple[str, ComponentStatus], ...]         # targets ("provider/model") not operational
    moved: tuple[tuple[str, str], ...]                       # (failed first choice, target now serving)
    stopped: tuple[str, ...]                                 # route names no target can serve
    feeds: tuple[tuple[str, ComponentStatus], ...] = ()      # providers whose own page reports a problem

    @property
    def worst(self) -> ComponentStatus:
        return max((status for _, _, status in self.affected), key=lambda s: s.rank,
                   default=ComponentStatus.OPERATIONAL)


def _target(label: str) -> str:
    provider, _, model = label.partition("/")
    return f"{provider} ({model})" if model else provider


def _join(items: Sequence[str], last: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def incident_name(situation: Situation) -> Text:
    names_fr = _join([name.fr for _, name, _ in situation.affected], "et")
    names_en = _join([name.en for _, name, _ in situation.affected], "and")
    if situation.worst is ComponentStatus.MAJOR_OUTAGE:
        return Text(f"{names_fr} : service interrompu", f"{names_en}: service unavailable")
    return Text(f"{names_fr} : service dégradé", f"{names_en}: degraded service")


def situation_body(situation: Situation) -> Text:
    fr: list[str] = []
    en: list[str] = []
    for _, name, status in situation.affected:
        fr.append(f"{name.fr} : {status_text(status).fr}.")
        en.append(f"{name.en}: {status_text(status).en}.")
    for label, status in situation.failing:
        fr.append(f"Le fournisseur {_target(label)} est en {status_text(status).fr}.")
        en.append(f"Provider {_target(label)} has a {status_text(status).en}.")
    for provider, status in situation.feeds:
        fr.append(f"La page d'état de {provider} signale : {status_text(status).fr}.")
        en.append(f"{provider}'s own status page reports: {status_text(status).en}.")
    moved = sorted({serving for _, serving in situation.moved})
    if moved:
        fr.append(f"Relève a basculé le trafic vers {_join([_target(t) for t in moved], 'et')} ; "
                  "les réponses continuent.")
        en.append(f"Relève moved traffic to {_join([_target(t) for t in moved], 'and')}; answers continue.")
    if situation.stopped:
        fr.append(f"Aucun fournisseur ne peut répondre pour {_join(list(situation.stopped), 'et')} : "
                  "les demandes échouent jusqu'au rétablissement. Nous suivons la situation.")
        en.append(f"No provider can answer for {_join(list(situation.stopped), 'and')}: requests fail until "
                  "a provider recovers. We are following the situation.")
    return Text(" ".join(fr), " ".join(en))


def recovered_body(situation_names: Sequence[Text]) -> Text:
    fr = _join([name.fr for name in situation_names], "et")
    en = _join([name.en for name in situation_names], "and")
    return Text(f"{fr} fonctionne de nouveau normalement. Nous surveillons la stabilité avant de clore l'incident.",
                f"{en} is working normally again. We are monitoring stability before closing this incident.")


def resolved_body(duration_seconds: float | None) -> Text:
    if duration_seconds is None:
        return Text("L'incident est résolu.", "This incident has been resolved.")
    fr, en = _duration(duration_seconds)
    return Text(f"L'incident est résolu. Durée de la perturbation : environ {fr}.",
                f"This incident has been resolved. The disruption lasted about {en}.")


def _duration(seconds: float) -> tuple[str, str]:
    if seconds < 90:
        value = max(1, round(seconds))
        return f"{value} s", f"{value} s"
    if seconds < 90 * 60:
        value = round(seconds / 60)
        return f"{value} min", f"{value} min"
    hours = seconds / 3600
    return f"{hours:.1f} h".replace(".", ","), f"{hours:.1f} h"
