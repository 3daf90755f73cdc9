"""What `releve check` says about a valid config: the plan's weak points.

Pure functions of the config, so the checks are unit-tested without I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ._models import AuthMode, Config, ProviderKind

__all__ = ["Finding", "Severity", "findings"]


class Severity(StrEnum):
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    where: str
    message: str


def findings(config: Config) -> list[Finding]:
    found: list[Finding] = []
    for name, route in config.routes.items():
        where = f"routes.{name}"
        providers = {target.provider for target in route.targets}
        if len(route.targets) == 1:
            found.append(Finding(Severity.WARNING, where, "a single target: a single point of failure, "
                                 "nothing takes over when it fails"))
        elif len(providers) == 1:
            found.append(Finding(Severity.WARNING, where, f"every target is on provider "
                                 f"'{next(iter(providers))}': an outage of that provider stops the route"))
        reachable = int(route.timeout // route.attempt_timeout) if route.attempt_timeout else len(route.targets)
        if reachable < len(route.targets):
            found.append(Finding(Severity.WARNING, where, f"timeout {route.timeout:g}s allows only {reachable} "
                                 f"attempt(s) of {route.attempt_timeout:g}s: if they all hang, the later "
                                 f"targets of its {len(route.targets)} are never tried"))
    used = {target.provider for route in config.routes.values() for target in route.targets}
    for name, provider in config.providers.items():
        if name not in used:
            found.append(Finding(Severity.INFO, f"providers.{name}", "not used by any route"))
        if provider.kind is ProviderKind.OPENAI and not provider.api_key:
            found.append(Finding(Severity.WARNING, f"providers.{name}.api_key", "no API key for an OpenAI "
                                 "provider: every request will be refused with 401"))
    found += _outage_findings(config)
    if config.auth is AuthMode.NONE:
        found.append(Finding(Severity.WARNING, "auth", "authentication is off: anyone who can reach "
                             f"{config.server.listen} can use every route"))
    return found


def _outage_findings(config: Config) -> list[Finding]:
    """Where detection or communication is weak: nobody told, nothing shown, nobody able to post."""
    found: list[Finding] = []
    if not config.processes:
        found.append(Finding(Severity.INFO, "processes", "no business processes: the status page shows routes, "
                             "and incidents name routes rather than what your customers use"))
    if not config.notify and not config.webhooks:
        found.append(Finding(Severity.WARNING, "notify", "no notify URLs or webhooks: incidents open on the status "
                             "page, but nobody is told"))
    if not config.monitor.enabled:
        found.append(Finding(Severity.WARNING, "monitor.enabled", "the monitor is off: no probes, no automatic "
                             "incidents"))
    if not config.admins and config.auth is AuthMode.KEYS:
        found.append(Finding(Severity.INFO, "admins", "no admin keys: the admin API is off (releve incident still "
                             "works on the machine)"))
    if config.storage.url in ("sqlite://", "sqlite:///:memory:"):
        found.append(Finding(Severity.WARNING, "storage.url", "an in-memory store: incidents and uptime are lost "
                             "when Relève stops"))
    return found
