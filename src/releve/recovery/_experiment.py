"""Chaos experiments as data: the shape Chaos Toolkit made standard, in YAML, and the built-in ones.

```yaml
title: The support assistant survives an OpenAI outage
description: OpenAI answers 503 to drill traffic for 30 s; Claude must take over.
steady_state_hypothesis:
  title: support-assistant answers 99 % of requests, p95 under 3 s
  route: support-assistant
  min_success_ratio: 0.99
  max_p95_latency: 3s
  requests: 10            # synthetic requests for the checks before and after
method:
  duration: 30s
  faults:                 # the admin API's fault objects (POST /admin/faults)
    - {target: openai/gpt-4o-mini, kind: error, status: 503, drill_only: true}
probes:                   # synthetic traffic during the faults, marked x-releve-drill
  rate: 5                 # requests per second
  stream: false
rollbacks: [delete_faults]  # always run, whatever happened
```

A fault without `ttl` gets the method's duration plus `ttl_margin` (10 s), so a
drill that dies mid-run leaves its faults for that long at most. Parsed by
hand into frozen values (pydantic stays in `config/`); errors name the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from releve.config import format_duration, parse_duration
from releve.errors import InvalidRequest
from releve.gateway import MAX_FAULT_TTL, FaultKind, FaultSpec, parse_fault

__all__ = ["BUILTIN_EXPERIMENTS", "Experiment", "ExperimentError", "ExperimentMethod", "ExperimentProbes",
           "SteadyState", "builtin_experiment", "load_experiment", "parse_experiment"]

ROLLBACKS = ("delete_faults",)
_PROMPT = "Relève drill: answer with one short sentence."
TTL_MARGIN = 10.0


class ExperimentError(ValueError):
    """An experiment file cannot be run; the message names the key."""


@dataclass(frozen=True, slots=True)
class SteadyState:
    """The steady state: what the route does when all is well, and must keep doing."""

    route: str
    title: str = ""
    min_success_ratio: float = 0.99
    max_p95_latency: float = 3.0
    requests: int = 10

    def describe(self) -> str:
        return self.title or (f"route {self.route} answers at least {self.min_success_ratio:.0%} of requests, "
                              f"p95 under {format_duration(self.max_p95_latency)}")


@dataclass(frozen=True, slots=True)
class ExperimentMethod:
    faults: tuple[FaultSpec, ...]
    duration: float


@dataclass(frozen=True, slots=True)
class ExperimentProbes:
    """Synthetic traffic during the faults (and for the checks before and after)."""

    rate: float = 5.0
    stream: bool = False
    timeout: float = 30.0
    prompt: str = _PROMPT


@dataclass(frozen=True, slots=True)
class Experiment:
    title: str
    hypothesis: SteadyState
    method: ExperimentMethod
    probes: ExperimentProbes = field(default_factory=ExperimentProbes)
    description: str = ""
    rollbacks: tuple[str, ...] = ROLLBACKS
    builtin: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The experiment as the journal keeps it: the YAML's shape, so `parse_experiment` reads it back."""
        hypothesis = self.hypothesis
        return {
            "title": self.title, "description": self.description,
            "steady_state_hypothesis": {
                "title": hypothesis.describe(), "route": hypothesis.route,
                "min_success_ratio": hypothesis.min_success_ratio, "max_p95_latency": hypothesis.max_p95_latency,
                "requests": hypothesis.requests},
            "method": {"duration": self.method.duration, "faults": [f.to_json() for f in self.method.faults]},
            "probes": {"rate": self.probes.rate, "stream": self.probes.stream, "timeout": self.probes.timeout,
                       "prompt": self.probes.prompt},
            "rollbacks": list(self.rollbacks),
        }

    def with_drill(self, drill: str) -> Experiment:
        """The faults tagged with the drill's id, so `drill_only` ones touch this drill's traffic only."""
        faults = tuple(replace(f, drill=f.drill or drill) for f in self.method.faults)
        return replace(self, method=replace(self.method, faults=faults))


def _section(data: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ExperimentError(f"{key}: must be a mapping")
    return value


def _only(data: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ExperimentError(f"{where}{unknown[0]}: unknown key (keys: {', '.join(allowed)})")


def _duration(data: Mapping[str, Any], key: str, where: str, default: float) -> float:
    if key not in data:
        return default
    try:
        return parse_duration(data[key])
    except ValueError as exc:
        raise ExperimentError(f"{where}{key}: {exc}") from None


def _number(data: Mapping[str, Any], key: str, where: str, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ExperimentError(f"{where}{key}: must be a number from {low:g} to {high:g}")
    return float(value)


def parse_experiment(data: Any) -> Experiment:
    """An experiment from its YAML tree; ExperimentError names the key path."""
    if not isinstance(data, Mapping):
        raise ExperimentError("an experiment is a mapping with title, steady_state_hypothesis, method")
    _only(data, "", ("title", "description", "steady_state_hypothesis", "method", "probes", "rollbacks"))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ExperimentError("title: required, a non-empty string")
    raw = _section(data, "steady_state_hypothesis")
    _only(raw, "steady_state_hypothesis.", ("title", "route", "min_success_ratio", "max_p95_latency", "requests"))
    route = raw.get("route")
    if not isinstance(route, str) or not route:
        raise ExperimentError("steady_state_hypothesis.route: required, the route's name")
    where = "steady_state_hypothesis."
    hypothesis = SteadyState(
        route=route, title=str(raw.get("title") or ""),
        min_success_ratio=_number(raw, "min_success_ratio", where, 0.99, 0, 1),
        max_p95_latency=_duration(raw, "max_p95_latency", where, 3.0),
        requests=int(_number(raw, "requests", where, 10, 1, 10_000)))
    raw = _section(data, "method")
    _only(raw, "method.", ("duration", "faults"))
    duration = _duration(raw, "duration", "method.", 30.0)
    if not 0 < duration <= MAX_FAULT_TTL - TTL_MARGIN:
        raise ExperimentError(f"method.duration: must be more than 0 and at most {MAX_FAULT_TTL - TTL_MARGIN:g}s")
    faults = raw.get("faults")
    if not isinstance(faults, list) or not faults:
        raise ExperimentError("method.faults: required, a list of faults (the admin API's fault objects)")
    parsed = []
    for index, item in enumerate(faults):
        if not isinstance(item, Mapping):
            raise ExperimentError(f"method.faults[{index}]: must be a mapping")
        try:
            parsed.append(parse_fault({"ttl": duration + TTL_MARGIN, **item}))
        except InvalidRequest as exc:
            raise ExperimentError(f"method.faults[{index}]: {exc}") from None
    raw = _section(data, "probes", required=False)
    _only(raw, "probes.", ("rate", "stream", "timeout", "prompt"))
    stream = raw.get("stream", False)
    if not isinstance(stream, bool):
        raise ExperimentError("probes.stream: must be true or false")
    probes = ExperimentProbes(rate=_number(raw, "rate", "probes.", 5.0, 0.1, 1000), stream=stream,
                    timeout=_duration(raw, "timeout", "probes.", 30.0),
                    prompt=str(raw.get("prompt") or _PROMPT))
    rollbacks = data.get("rollbacks", list(ROLLBACKS))
    if not isinstance(rollbacks, list) or any(r not in ROLLBACKS for r in rollbacks):
        raise ExperimentError(f"rollbacks: a list of {', '.join(ROLLBACKS)} (faults are deleted in any case)")
    return Experiment(title=title.strip(), description=str(data.get("description") or ""), hypothesis=hypothesis,
                      method=ExperimentMethod(tuple(parsed), duration), probes=probes,
                      rollbacks=tuple(rollbacks) or ROLLBACKS)


def load_experiment(path: Path) -> Experiment:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExperimentError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ExperimentError(f"{path} is not valid YAML: {exc}") from None
    return parse_experiment(data)


# name -> (what it acts out, the fault, probe overrides)
BUILTIN_EXPERIMENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "provider-outage": ("{scope} answers 503 to every request", {"kind": "error", "status": 503}, {}),
    "slow-provider": ("{scope} takes {ms} ms more to answer", {"kind": "latency", "ms": 5000}, {}),
    "rate-limit-storm": ("{scope} answers 429 (Retry-After 5 s) to every request",
                         {"kind": "rate_limit", "retry_after": 5}, {}),
    "stream-cuts": ("{scope} breaks every stream after its first events", {"kind": "stream_cut"},
                    {"stream": True}),
    "region-outage": ("every provider in region {region} answers 503", {"kind": "error", "status": 503}, {}),
}


def builtin_experiment(name: str, *, target: str, route: str, duration: float = 30.0, rate: float = 5.0,
                       drill_only: bool = True, ms: int | None = None, ttl: float | None = None,
                       hypothesis: SteadyState | None = None) -> Experiment:
    """A built-in drill. `target` is `provider/model`, a provider name, or (region-outage) a region.

    `ttl` defaults to the duration plus 10 s: how long the faults outlive a drill killed mid-run.
    """
    if name not in BUILTIN_EXPERIMENTS:
        raise ExperimentError(f"no built-in experiment {name!r} (built-ins: {', '.join(BUILTIN_EXPERIMENTS)})")
    what, fault, probes = BUILTIN_EXPERIMENTS[name]
    if name == "region-outage":
        scope: dict[str, Any] = {"region": target}
    elif "/" in target:
        scope = {"target": target}
    else:
        scope = {"provider": target}
    fault = {**fault, **scope, "drill_only": drill_only, **({"ttl": ttl} if ttl is not None else {})}
    if ms is not None and fault["kind"] == FaultKind.LATENCY.value:
        fault["ms"] = ms
    described = what.format(scope=next(iter(scope.values())), ms=fault.get("ms"), region=target)
    experiment = parse_experiment({
        "title": f"{name}: {described}",
        "description": f"Built-in drill {name!r} on route {route!r} for {format_duration(duration)}: {described}"
                       + (" (drill traffic only)." if drill_only else " (all traffic)."),
        "steady_state_hypothesis": {"route": route} if hypothesis is None else {
            "route": route, "title": hypothesis.title, "min_success_ratio": hypothesis.min_success_ratio,
            "max_p95_latency": hypothesis.max_p95_latency, "requests": hypothesis.requests},
        "method": {"duration": duration, "faults": [fault]},
        "probes": {"rate": rate, **probes},
    })
    return replace(experiment, builtin=name)
