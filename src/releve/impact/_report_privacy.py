"""Where personal data went during an incident, from the audit log: only where it already went, or somewhere new.

Failing over is where personal data is most likely to go somewhere it should not. The router writes one
`request` entry per request on a route with a data policy (the targets that received it and in which form,
their regions, its data class, the outcome) and one `policy_skip` entry per target the policy kept it from
(`protect/_audit.py`). For the incident's routes, this module counts the requests carrying personal data that
each (target, form) received during the incident, and compares with the same length of time just before it:
a (target, form) that received none of those routes' personal data then is *new*.

The facts only; `_report_render` puts them into words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from releve.config import Config
from releve.store import AuditEntry, Store

__all__ = ["AUDIT_SLACK", "UNKNOWN_REGION", "DataFlow", "PersonalDataUse", "personal_data_use"]

# Entries are read in seq order; their `at` may disagree a little with it (several processes, buffered writes).
# Reading stops at the first entry this long after the interval's end.
AUDIT_SLACK = timedelta(minutes=5)
UNKNOWN_REGION = "unknown"


@dataclass(frozen=True, slots=True)
class DataFlow:
    """Requests carrying personal data that one target received in one form during the incident."""

    target: str                  # "provider/model"
    form: str                    # "as is" | "pseudonymized" (as the router writes it)
    regions: tuple[str, ...]     # where the target processes data ("unknown" when not recorded)
    requests: int                # during the incident
    before: int                  # in the same length of time just before it

    @property
    def new(self) -> bool:
        """This target did not receive these routes' personal data in this form before the incident."""
        return self.before == 0


@dataclass(frozen=True, slots=True)
class PersonalDataUse:
    """Personal data on the incident's routes during [start, end), against [before, start)."""

    routes: tuple[str, ...]
    before: datetime                        # start of the comparison interval (as long as the incident)
    start: datetime
    end: datetime
    requests: int                           # requests carrying personal data during the incident
    refused: int                            # of which the data policy refused (no allowed target could take it)
    regions: tuple[str, ...]                # every region that received personal data during the incident
    flows: tuple[DataFlow, ...]             # by target then form
    skipped: tuple[tuple[str, int], ...]    # targets the data policy kept these routes' requests from, how often
    identifiers: tuple[tuple[str, int], ...]   # identifiers detected in those requests, by kind

    @property
    def new(self) -> tuple[DataFlow, ...]:
        return tuple(flow for flow in self.flows if flow.new)


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _split(label: str) -> tuple[str, str]:
    """"eu/m (as is)" → ("eu/m", "as is"); a label without a form was sent as is."""
    target, sep, rest = label.rpartition(" (")
    if sep and rest.endswith(")"):
        return target, rest[:-1]
    return label, "as is"


def _target_regions(targets: Sequence[str], regions: Sequence[str], config: Config) -> list[str]:
    """Each target's region. The entry lists the regions of all its targets together: a target whose provider's
    configured region is among them has that one; a single target left over has the single region left over
    (a provider since removed or moved); any other is "unknown"."""
    out: list[str | None] = []
    for target in targets:
        provider = config.providers.get(target.partition("/")[0])
        region = provider.region if provider is not None else None
        out.append(region if region is not None and (not regions or region in regions) else None)
    left_over = set(regions) - {region for region in out if region is not None}
    if out.count(None) == 1 and len(left_over) == 1:
        out[out.index(None)] = left_over.pop()
    return [region or UNKNOWN_REGION for region in out]


def _entries(store: Store, routes: frozenset[str], since: datetime, until: datetime) -> Iterable[AuditEntry]:
    """The `request` and `policy_skip` entries of `routes` stamped in [since, until)."""
    for entry in store.audit_entries(since=since):
        if entry.at >= until + AUDIT_SLACK:
            return
        if (entry.kind in ("request", "policy_skip") and since <= entry.at < until
                and entry.data.get("route") in routes):
            yield entry


def _personal(entry: AuditEntry) -> bool:
    return entry.kind == "request" and entry.data.get("data_class") == "personal"


def personal_data_use(store: Store, config: Config, routes: Iterable[str], start: datetime,
                      end: datetime) -> PersonalDataUse:
    """What the audit log says of personal data on `routes` during [start, end), and in as long a time before."""
    names = frozenset(routes)
    before = start - max(end - start, timedelta(0))
    during: Counter[tuple[str, str]] = Counter()
    earlier: Counter[tuple[str, str]] = Counter()
    regions: dict[tuple[str, str], set[str]] = {}
    skipped: Counter[str] = Counter()
    identifiers: Counter[str] = Counter()
    requests = refused = 0
    for entry in _entries(store, names, before, end) if names else ():
        inside = entry.at >= start
        if entry.kind == "policy_skip":
            target = entry.data.get("target")
            if inside and isinstance(target, str):
                skipped[target] += 1
            continue
        if not _personal(entry):
            continue
        pairs = list(dict.fromkeys(_split(label) for label in _strings(entry.data.get("targets"))))
        if not inside:
            earlier.update(set(pairs))
            continue
        requests += 1
        refused += 1 if entry.data.get("outcome") == "refused" else 0
        pii = entry.data.get("pii")
        if isinstance(pii, dict):
            identifiers.update({kind: count for kind, count in pii.items() if isinstance(count, int)})
        places = _target_regions([target for target, _ in pairs], _strings(entry.data.get("regions")), config)
        for pair, region in zip(pairs, places, strict=True):
            during[pair] += 1
            regions.setdefault(pair, set()).add(region)
    flows = tuple(DataFlow(target=target, form=form, regions=tuple(sorted(regions[target, form])), requests=count,
                           before=earlier[target, form])
                  for (target, form), count in sorted(during.items()))
    return PersonalDataUse(
        routes=tuple(sorted(names)), before=before, start=start, end=end, requests=requests, refused=refused,
        regions=tuple(sorted({region for flow in flows for region in flow.regions})), flows=flows,
        skipped=tuple(sorted(skipped.items())), identifiers=tuple(sorted(identifiers.items())))
