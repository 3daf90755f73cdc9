"""The continuity and recovery plan (PCA/PRA) generated from releve.yaml, as HTML and PDF, in French or English.

A plan written by hand drifts from what is deployed; this one is the configuration itself, read for a
manager or an auditor: what depends on which provider, what takes over, who is told, and where the
configuration is weak (the same findings as `releve check`). Secrets never reach the template: the
plan keeps hosts and schemes of URLs, never the URLs.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from releve.config import Config, ProcessConfig, ProviderConfig, RouteConfig, findings
from releve.store import Text

from ._plan_diagram import plan_diagram
from ._plan_model import (
    Channel,
    DataDestination,
    DataForm,
    DataPolicy,
    MonitorSettings,
    Plan,
    PlanProcess,
    PlanProvider,
    PlanRoute,
    PlanTarget,
    StorageKind,
)
from ._plan_text import LABELS, PLAN_LANGUAGES, formatters
from ._render import render, write_documents

__all__ = ["PLAN_LANGUAGES", "continuity_plan", "render_plan", "write_plan"]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,31}$")


def continuity_plan(config: Config, *, config_path: Path | str, now: datetime) -> Plan:
    """Everything the plan shows, from `config` alone (nothing read from the store or the network)."""
    used_by: dict[str, list[str]] = {name: [] for name in config.routes}
    for process_name, process in config.processes.items():
        for route_name in dict.fromkeys(process.routes):
            used_by[route_name].append(process_name)
    monitor, probes = config.monitor, config.monitor.probes
    return Plan(
        generated_at=now,
        config_file=str(config_path),
        currency=config.currency,
        processes=tuple(
            PlanProcess(
                id=name, name=Text(process.name.fr, process.name.en) if process.name else Text(name, name),
                description=Text(process.description.fr, process.description.en) if process.description else None,
                criticality=process.criticality.value, users=process.users, hourly_cost=process.hourly_cost,
                revenue_per_hour=process.revenue_per_hour, rto=process.rto, rpo=process.rpo, mtd=process.mtd,
                personal_data=process.personal_data, owner=process.owner, contacts=tuple(process.contacts),
                routes=tuple(dict.fromkeys(process.routes)), data_destinations=_destinations(config, process))
            for name, process in config.processes.items()),
        routes=tuple(_route(config, name, route, tuple(used_by[name])) for name, route in config.routes.items()),
        providers=tuple(_provider(config, name, provider) for name, provider in config.providers.items()),
        monitor=MonitorSettings(
            enabled=monitor.enabled, evaluate_every=monitor.evaluate_every, window=monitor.window,
            min_samples=monitor.min_samples, partial_rate=monitor.partial_rate, major_rate=monitor.major_rate,
            slow_after=monitor.slow_after, down_after=monitor.down_after, up_after=monitor.up_after,
            resolve_after=monitor.resolve_after, probe_request=probes.request.value, probe_every=probes.every,
            probe_timeout=probes.timeout, status_feed_every=monitor.status_feed_every),
        channels=tuple([Channel("webhook", _host(webhook.url) or "?") for webhook in config.webhooks]
                       + [Channel("apprise", _scheme(url)) for url in config.notify]),
        status_page_url=_status_page(config.status_page.public_url),
        status_languages=tuple(config.status_page.languages),
        admins=tuple(config.admins),
        storage=_storage(config.storage.url),
        findings=tuple(findings(config)),
    )


def _policy(provider: ProviderConfig) -> DataPolicy:
    if provider.personal_data == "pseudonymized":
        return "pseudonymized"
    return "allowed" if provider.personal_data else "refused"


def _form(provider: ProviderConfig, route: RouteConfig) -> DataForm:
    """As the gateway's data policy decides (`gateway/_data.py`): the route's allowed_regions first, then what
    the provider may receive."""
    if route.allowed_regions is not None and provider.region not in route.allowed_regions:
        return "region"
    if provider.personal_data == "pseudonymized":
        return "pseudonymized"
    return "as-is" if provider.personal_data else "refused"


def _destinations(config: Config, process: ProcessConfig) -> tuple[DataDestination, ...]:
    """Every target of the routes that may carry the process's personal data: all of them when the process
    declares personal data (the gateway then treats its routes as personal), else those declared `data: personal`."""
    routes = [name for name in dict.fromkeys(process.routes)
              if process.personal_data or config.routes[name].data == "personal"]
    return tuple(DataDestination(name, target.provider, target.model, config.providers[target.provider].region,
                                 _form(config.providers[target.provider], config.routes[name]))
                 for name in routes for target in config.routes[name].targets)


def _route(config: Config, name: str, route: RouteConfig, processes: tuple[str, ...]) -> PlanRoute:
    breaker = config.breaker_for(name)
    return PlanRoute(
        name=name, strategy=route.strategy.value,
        targets=tuple(PlanTarget(target.provider, target.model, target.weight,
                                 config.providers[target.provider].region,
                                 _policy(config.providers[target.provider])) for target in route.targets),
        timeout=route.timeout, attempt_timeout=route.attempt_timeout, retries=route.retries,
        backoff_base=route.backoff.base, backoff_max=route.backoff.max, hedge_after=route.hedge_after,
        recover_streams=route.recover_streams, stream_idle_timeout=route.stream_idle_timeout,
        # The same worst case as the RTO finding: every earlier target hangs, capped by the whole timeout.
        failover_wait=min(route.attempt_timeout * (len(route.targets) - 1), route.timeout),
        breaker_failures=breaker.consecutive_failures, breaker_open_for=breaker.open_for, processes=processes)


def _provider(config: Config, name: str, provider: ProviderConfig) -> PlanProvider:
    probe = provider.probe or config.monitor.probes
    return PlanProvider(
        name=name, kind=provider.kind.value, host=_host(provider.base_url) or "?", region=provider.region,
        personal_data=_policy(provider),
        status_feed_host=_host(provider.status_feed) if provider.status_feed else None,
        probe_request=probe.request.value, probe_every=probe.every, probe_timeout=probe.timeout)


def _host(url: str) -> str:
    """Only the host: a URL's user, password, path and query may all carry secrets."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _scheme(url: str) -> str:
    """The service an Apprise URL names ("slack", "mailtos"): the rest of it is tokens and passwords."""
    scheme = url.partition("://")[0].strip().lower() if "://" in url else ""
    return scheme if _SCHEME.match(scheme) else "?"


def _status_page(public_url: str) -> str | None:
    if not public_url:
        return None
    try:
        parts = urlsplit(public_url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port else ""
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/status", "", ""))


def _storage(url: str) -> StorageKind:
    if url.startswith("postgresql"):
        return "postgresql"
    return "sqlite-memory" if url in ("sqlite://", "sqlite:///:memory:") else "sqlite-file"


def render_plan(plan: Plan, language: str) -> str:
    """The plan as one self-contained HTML page (inline CSS and SVG), ready for a browser or WeasyPrint."""
    if language not in PLAN_LANGUAGES:
        raise ValueError(f"language {language!r} is not available ({', '.join(PLAN_LANGUAGES)})")
    return render("plan.html", {"plan": plan, "lang": language, "t": LABELS[language],
                                "diagram": plan_diagram(plan, language), **formatters(language)})


def write_plan(plan: Plan, directory: Path, language: str) -> dict[str, Path]:
    """Write `releve-plan.<language>.html` and `.pdf` into `directory`; return their paths by format."""
    return write_documents(directory, f"releve-plan.{language}", render_plan(plan, language))
