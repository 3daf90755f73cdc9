"""What `releve check` says about a valid config: the plan's weak points.

Pure functions of the config, so the checks are unit-tested without I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from ._models import AuthMode, Config, ProviderKind, RouteConfig, Strategy
from ._units import format_duration

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
    found += _shared_failure_findings(config)
    found += _recovery_findings(config)
    found += _personal_data_findings(config)
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


def _host(url: str) -> str:
    """The server a URL reaches: its host, and its port when not the scheme's default.

    Two local model servers on one machine (different ports) are different services; two names
    for api.openai.com are one vendor.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _shared_failure_findings(config: Config) -> list[Finding]:
    """Failures that two targets of a route would share: one region, or one vendor under two provider names."""
    found: list[Finding] = []
    for name, route in config.routes.items():
        providers = list(dict.fromkeys(target.provider for target in route.targets))
        if len(providers) < 2:
            continue  # already a single point of failure, said above
        regions = {config.providers[provider].region for provider in providers}
        if None not in regions and len(regions) == 1:
            found.append(Finding(Severity.WARNING, f"routes.{name}", f"every target is in region "
                                 f"'{next(iter(regions))}': an outage of that region stops the route"))
        hosts = {provider: _host(config.providers[provider].base_url) for provider in providers}
        for index, first in enumerate(providers):
            for second in providers[index + 1:]:
                host = hosts[first]
                if host and host == hosts[second]:
                    found.append(Finding(Severity.WARNING, f"routes.{name}", f"providers '{first}' and '{second}' "
                                         f"both point at host {host}: one vendor behind two names, an outage "
                                         "there stops both"))
    return found


def _failover_wait(route: RouteConfig) -> float:
    """The worst wait before a request reaches the route's last target: every earlier one hangs until
    its attempt timeout (hedging only shortens it), capped by the route's whole timeout."""
    return min(route.attempt_timeout * (len(route.targets) - 1), route.timeout)


def _recovery_findings(config: Config) -> list[Finding]:
    """RTOs the routes cannot meet: a failover that needs a provider the route lacks, or takes too long."""
    found: list[Finding] = []
    for name, process in config.processes.items():
        if process.rto is None:
            continue
        where, rto = f"processes.{name}", format_duration(process.rto)
        for route_name in dict.fromkeys(process.routes):
            route = config.routes[route_name]
            providers = list(dict.fromkeys(target.provider for target in route.targets))
            if len(providers) == 1:
                found.append(Finding(Severity.WARNING, where, f"rto {rto} cannot be guaranteed: route "
                                     f"'{route_name}' has no target outside provider '{providers[0]}', so "
                                     "recovery depends on that provider alone"))
            wait = _failover_wait(route)
            if wait > process.rto:
                last = route.targets[-1]
                found.append(Finding(Severity.WARNING, where, f"rto {rto} cannot be met by route '{route_name}': "
                                     f"when its first targets hang, a request waits up to {format_duration(wait)} "
                                     f"before reaching its last target ({last.provider}/{last.model})"))
    return found


def _personal_data_findings(config: Config) -> list[Finding]:
    """Personal data sent, on some path of the failover chain, to a provider not cleared to receive it."""
    found: list[Finding] = []
    for name, process in config.processes.items():
        if not process.personal_data:
            continue
        for route_name in dict.fromkeys(process.routes):
            route = config.routes[route_name]
            providers = list(dict.fromkeys(target.provider for target in route.targets))
            for index, provider in enumerate(providers):
                policy = config.providers[provider].personal_data
                if policy is True:
                    continue
                # With weights any target may be drawn first: no outage is needed for it to receive requests.
                before = "" if route.strategy is Strategy.WEIGHTED else ", ".join(f"'{p}'" for p in providers[:index])
                when = f"during an outage of {before}, " if before else ""
                where = f"processes.{name}"
                if policy is False:
                    found.append(Finding(Severity.WARNING, where, f"route '{route_name}': {when}requests with "
                                         f"personal data cannot go to '{provider}', which may not receive them "
                                         "(personal_data: false): they are refused; add a fallback that may"))
                else:
                    found.append(Finding(Severity.INFO, where, f"route '{route_name}': {when}requests with personal "
                                         f"data go to '{provider}' only pseudonymised (identifiers replaced, "
                                         "answers re-identified)"))
    undeclared = sorted(name for name, provider in config.providers.items()
                        if "personal_data" not in provider.model_fields_set)
    if undeclared and (config.processes or any(route.data != "none" for route in config.routes.values())):
        found.append(Finding(Severity.INFO, "providers", f"{', '.join(undeclared)}: personal_data not declared, "
                             "assumed true (may receive personal data as is); declare false or pseudonymized "
                             "where the contract says so"))
    return found
