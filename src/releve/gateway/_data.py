"""Data policies on the request path: which target may receive this request, and in what form.

A provider says what it may receive (`personal_data: true | false |
pseudonymized`, its `region`); a route says what its requests carry (`data:
personal | none | detect`, `allowed_regions`). Before each attempt the router
keeps only the targets allowed to receive this request in this form; a
target that may receive personal data only pseudonymised gets a copy whose
identifiers are replaced by placeholders, and its answer is re-identified
before the client sees it. Detection and pseudonymisation live in
`releve.protect`; the gateway reaches them through the `DataGuard` protocol
(it cannot import them), and only where a policy needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from releve.config import Config

__all__ = ["DataGuard", "DataPolicies", "Pseudonymized", "RequestPolicy", "TargetRule"]


class Form(Enum):
    AS_IS = "as is"
    PSEUDONYMIZED = "pseudonymized"
    NEVER = "never"


class Pseudonymized(Protocol):
    """One request's body with placeholders, and the way back for its answer."""

    body: dict[str, Any]

    def reidentify_answer(self, answer: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self) -> ChunkReidentifier: ...


class ChunkReidentifier(Protocol):
    def feed(self, chunk: dict[str, Any]) -> dict[str, Any] | None: ...

    def finish(self) -> list[dict[str, Any]]: ...


class DataGuard(Protocol):
    def detect(self, body: dict[str, Any]) -> Mapping[str, int]:
        """Counts of personal data found, by kind ("EMAIL": 2…); empty when there is none."""
        ...

    def pseudonymize(self, body: dict[str, Any]) -> Pseudonymized: ...


@dataclass(frozen=True, slots=True)
class TargetRule:
    personal: Form      # what this target may receive of personal data
    in_region: bool     # the route's allowed_regions admit it
    region: str | None
    provider: str


@dataclass(slots=True)
class RequestPolicy:
    """The decision for one request: its data class, what was found, and each target's rule."""

    route: str
    personal: bool
    found: Mapping[str, int]
    rules: Mapping[str, TargetRule]        # by target label
    guard: DataGuard | None
    _pseudonymized: Pseudonymized | None = field(default=None)

    def refusal(self, label: str) -> str | None:
        """Why this target may not receive this request, or None when it may."""
        rule = self.rules[label]
        if not rule.in_region:
            return f"data policy: region {rule.region or 'unknown'} is not in the route's allowed_regions"
        if self.personal and rule.personal is Form.NEVER:
            return f"data policy: provider {rule.provider} may not receive personal data"
        return None

    def form(self, label: str) -> Form:
        return self.rules[label].personal if self.personal else Form.AS_IS

    def body_for(self, label: str, body: dict[str, Any]) -> tuple[dict[str, Any], Pseudonymized | None]:
        """The body this target receives: as is, or pseudonymised (computed once per request)."""
        if self.form(label) is not Form.PSEUDONYMIZED or self.guard is None:
            return body, None
        if self._pseudonymized is None:
            self._pseudonymized = self.guard.pseudonymize(body)
        return dict(self._pseudonymized.body), self._pseudonymized


class DataPolicies:
    """The static part, built once: each route's data class and each of its targets' rules."""

    def __init__(self, config: Config, guard: DataGuard | None) -> None:
        self.guard = guard
        self._routes: dict[str, tuple[str, dict[str, TargetRule]]] = {}
        personal_processes = {route for process in config.processes.values() if process.personal_data
                              for route in process.routes}
        for name, route in config.routes.items():
            data = "personal" if name in personal_processes else route.data
            allowed = set(route.allowed_regions) if route.allowed_regions is not None else None
            rules = {}
            for target in route.targets:
                provider = config.providers[target.provider]
                form = {True: Form.AS_IS, False: Form.NEVER, "pseudonymized": Form.PSEUDONYMIZED}[
                    provider.personal_data]
                rules[f"{target.provider}/{target.model}"] = TargetRule(
                    form, allowed is None or provider.region in allowed, provider.region, target.provider)
            restricted = any(rule.personal is not Form.AS_IS or not rule.in_region for rule in rules.values())
            if restricted:  # a route whose targets may all receive anything needs no decision per request
                self._routes[name] = (data, rules)

    def decide(self, route: str, body: dict[str, Any], marked_personal: bool) -> RequestPolicy | None:
        """None when nothing restricts this route; detection runs only for `detect` routes that need it."""
        entry = self._routes.get(route)
        if entry is None:
            return None
        data, rules = entry
        found: Mapping[str, int] = {}
        if marked_personal or data == "personal":
            personal = True
        elif data == "none":
            personal = False
        else:
            found = self.guard.detect(body) if self.guard is not None else {}
            personal = bool(found)
        return RequestPolicy(route, personal, found, rules, self.guard)
