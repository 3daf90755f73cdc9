"""The only place where parts are wired together: `build_app(config) -> App`.

Building does no I/O. Connection pools open and background tasks start in the
ASGI lifespan, inside the server's event loop, and close at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from releve.admin import AdminApi
from releve.asgi import JSON_HEADERS, Receive, Scope, Send, send_bytes
from releve.batches import BatchApi, BatchRunner
from releve.clock import MONOTONIC, Clock
from releve.cluster import Leadership, SharedState, replica_id
from releve.config import AuthMode, Config, Priority, RetentionConfig
from releve.errors import StoreError
from releve.gateway import (
    HIGH,
    LOW,
    NORMAL,
    AccessLog,
    AnthropicApi,
    BreakerChanged,
    BreakerState,
    ClientAuth,
    DataDecision,
    DataPolicies,
    DegradedModes,
    Event,
    EventBus,
    Fault,
    FaultTable,
    GatewayMetrics,
    OpenAIApi,
    RequestRecorder,
    Router,
    TargetHealth,
    build_routes,
    mark_drill,
)
from releve.gateway.providers import ProviderTransport, http_transports
from releve.jobs import JobRunner, JobsApi, StoreDeferrer, StoreIdempotency
from releve.monitor import Monitor, TrafficRecorder
from releve.notify import Channels, Notifier
from releve.protect import AuditLog, AuditSpool, PseudonymGuard, request_record
from releve.recovery import RecoverySchedule
from releve.status import StatusPage
from releve.store import ContentKeys, Store

__all__ = ["App", "build_app"]

logger = logging.getLogger("releve.app")
Handler = Callable[[Scope, Receive, Send], Any]
_INCIDENT_LINK_EVERY = 3.0
_METRICS_HEADERS = ((b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),)


_PRIORITY = {Priority.HIGH: HIGH, Priority.NORMAL: NORMAL, Priority.LOW: LOW}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Outages:
    """Everything about outages: the store, the monitor and notifier (the lead only), the pages.

    Which process is the lead is decided by the store's lead lease (`Leadership`), across workers and
    replicas; the role may move, so the lead's work starts in `_lead_start` and stops in `_lead_stop`.
    """

    def __init__(self, store: Store, monitor: Monitor, notifier: Notifier, status: StatusPage, admin: AdminApi,
                 audit: AuditLog, traffic: TrafficRecorder, *, candidate: bool, lease: float, page_url: str,
                 config_hash: str, retention: RetentionConfig, wall: Callable[[], datetime], schedule: RecoverySchedule,
                 replica: str) -> None:
        self._schedule = schedule
        self._retention = retention
        self._wall = wall
        self._purge: asyncio.Task[None] | None = None
        self.store = store
        self.audit = audit
        self.traffic = traffic  # every process records its own traffic (cost reports add them up)
        self._config_hash = config_hash
        self.monitor = monitor
        self.notifier = notifier
        self.status = status
        self.admin = admin
        self.leadership = Leadership(store, ttl=lease, wall=wall, on_gain=self._lead_start,
                                     on_loss=self._lead_stop, holder=replica, candidate=candidate)
        self._page_url = page_url
        self._open_incident: str | None = None
        self._watch: asyncio.Task[None] | None = None

    def incident_link(self) -> str | None:
        """The status page of the open incident, for clients refused during it; None when all is well."""
        if self._open_incident is None:
            return None
        return f"{self._page_url}#incident-{self._open_incident}"

    @property
    def leading(self) -> bool:
        return self.leadership.leading

    async def start(self) -> None:
        await asyncio.to_thread(self.store.open)
        await self.audit.start()
        self.traffic.start()
        await self.leadership.start()
        self._watch = asyncio.create_task(self._watch_incidents(), name="releve-incident-link")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.leadership.close()  # stops the lead's work if it runs here, and hands the lease over
        await self.traffic.close()
        await self.audit.close()
        await asyncio.to_thread(self.store.close)

    async def _lead_start(self) -> None:
        self.audit.record("config", "releve", {"sha256": self._config_hash})
        self._purge = asyncio.create_task(self._purge_content(), name="releve-retention")
        self._schedule.start()
        await self.notifier.start()
        await self.monitor.start()

    async def _lead_stop(self) -> None:
        await self._schedule.close()
        if self._purge is not None:
            self._purge.cancel()
            await asyncio.gather(self._purge, return_exceptions=True)
            self._purge = None
        await self.monitor.close()
        await self.notifier.close()

    def on_event(self, event: Event) -> None:
        """What the audit log keeps of the request path: data-policy decisions and skips, never content."""
        if isinstance(event, DataDecision):
            self.audit.record("request", "gateway", request_record(
                route=event.route, outcome=event.outcome, targets=event.tried, regions=event.regions,
                data_class="personal" if event.personal else "none", pii=dict(event.pii)))
            for label in event.refused:
                self.audit.record("policy_skip", "gateway", {"route": event.route, "target": label})

    async def _purge_content(self) -> None:
        """Retention: stored content older than `retention.content` goes, at start and every `purge_every`."""
        while True:
            now = self._wall()
            try:
                removed = await asyncio.to_thread(
                    self.store.purge_content, now - timedelta(seconds=self._retention.content), at=now)
            except StoreError:
                logger.exception("retention purge failed; trying again later")
            else:
                if any(removed.values()):
                    logger.info("retention: removed %s", ", ".join(f"{n} {k}" for k, n in removed.items() if n))
            await asyncio.sleep(self._retention.purge_every)

    async def _watch_incidents(self) -> None:
        """Every worker knows the open incident (read from the store every few seconds), not only the lead."""
        while True:
            try:
                found = await asyncio.to_thread(self.store.incidents, unresolved=True, maintenance=False, limit=1)
                self._open_incident = found[0].id if found else None
            except StoreError:
                logger.warning("could not read open incidents; refusals will not link to the status page")
            await asyncio.sleep(_INCIDENT_LINK_EVERY)


class Backlog:
    """Work kept through outages: deferred jobs and batches. Runs in every worker (claims are leased)."""

    def __init__(self, runner: JobRunner, jobs_api: JobsApi, batch_runner: BatchRunner, batch_api: BatchApi) -> None:
        self.runner = runner
        self.jobs_api = jobs_api
        self.batch_runner = batch_runner
        self.batch_api = batch_api

    async def start(self) -> None:
        await self.runner.start()
        await self.batch_runner.start()

    async def close(self) -> None:
        await self.batch_runner.close()
        await self.runner.close()


class App:
    """The ASGI application: a path table and a lifespan, nothing per request beyond a dict lookup."""

    def __init__(self, config: Config, router: Router, apis: tuple[OpenAIApi, AnthropicApi], metrics: GatewayMetrics,
                 bus: EventBus, transports: Mapping[str, ProviderTransport], outages: Outages,
                 backlog: Backlog, shared: SharedState) -> None:
        self.config = config
        self.shared = shared
        self.router = router
        self.metrics = metrics
        self.bus = bus
        self.outages = outages
        self.backlog = backlog
        self.freeze_gc = False  # `releve up` sets it; tests that start many apps in one process do not
        self._transports = transports
        self._faults = router.faults
        # Paths with ids in them, looked at only when the exact-path table has no entry.
        self._prefixed: tuple[tuple[Callable[[str], bool], Handler], ...] = (
            (outages.admin.handles, outages.admin), (backlog.jobs_api.handles, backlog.jobs_api),
            (backlog.batch_api.handles, backlog.batch_api))
        self._event_handlers: list[Callable[[Event], None]] = [metrics.on_event, outages.on_event,
                                                               self._to_monitor]
        self._pump: asyncio.Task[None] | None = None
        openai_api, anthropic_api = apis
        self._anthropic_models = anthropic_api.models
        self._endpoints: dict[str, tuple[str, Handler]] = {
            **openai_api.endpoints,
            "/v1/messages": ("POST", anthropic_api.messages),
            "/healthz": ("GET", self._healthz),
            "/metrics": ("GET", self._metrics),
            **outages.status.endpoints,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            entry = self._endpoints.get(scope["path"])
            if entry is None:
                path = scope["path"]
                for handles, handler in self._prefixed:
                    if handles(path):
                        await handler(scope, receive, send)
                        return
                await send_bytes(send, 404, _error(f"No endpoint at {path}.", "not_found"))
            elif scope["method"] != entry[0]:
                await send_bytes(send, 405, _error(f"{scope['path']} accepts {entry[0]} only.",
                                                   "method_not_allowed"),
                                 (*JSON_HEADERS, (b"allow", entry[0].encode())))
            elif scope["path"] == "/v1/models" and any(name == b"anthropic-version" for name, _ in scope["headers"]):
                await self._anthropic_models(scope, receive, send)  # the same path, in Anthropic's shape
            else:
                if self._faults.armed:  # a drill is on: note which requests are its own
                    mark_drill(scope["headers"])
                await entry[1](scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    def _to_monitor(self, event: Event) -> None:
        if self.outages.leading:
            self.outages.monitor.on_event(event)

    def on_event(self, handler: Callable[[Event], None]) -> None:
        """Subscribe to gateway events; handlers run off the request path."""
        self._event_handlers.append(handler)

    async def startup(self) -> None:
        for transport in self._transports.values():
            await transport.start()
        await self.shared.start()
        await self.outages.start()
        await self.backlog.start()
        self._pump = asyncio.create_task(self._pump_events(), name="releve-events")
        if self.freeze_gc:
            # Everything built so far lives as long as the process: the cyclic GC need not walk it again on
            # every full collection (measured: it cost the request path a fifth of its throughput, and p99
            # went from 7 to 71 ms at 32 connections, once the store, templates and validators were loaded).
            gc.freeze()
        if self.config.auth is AuthMode.NONE:
            logger.warning("AUTHENTICATION IS OFF (auth: none): anyone who can reach %s can use every route",
                           self.config.server.listen)

    async def shutdown(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.backlog.close()  # it uses the router and the transports: it stops first
        await self.outages.close()
        await self.shared.close()
        self.router.close()
        for transport in self._transports.values():
            await transport.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _pump_events(self) -> None:
        while True:
            for event in await self.bus.wait():
                for handler in self._event_handlers:
                    try:
                        handler(event)
                    except Exception:
                        logger.exception("event handler failed on %s", type(event).__name__)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        targets = {}
        for plan in self.router.routes.values():
            for target in plan.targets:
                targets[target.label] = {"breaker": target.health.breaker.state.value}
        shared = self.shared.describe()
        # 200 even when degraded: a replica without Redis still serves, and the load balancer must keep it.
        status = "degraded" if shared["shared_state"] == "degraded" else "ok"
        await send_bytes(send, 200, orjson.dumps({"status": status, "replica": self.shared.replica,
                                                  "lead": self.outages.leading, **shared, "targets": targets}))

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, self.metrics.render(), _METRICS_HEADERS)


def _personal_routes(config: Config) -> frozenset[str]:
    """Routes whose requests carry personal data: declared so, or used by a process that handles it."""
    by_process = {route for process in config.processes.values() if process.personal_data for route in process.routes}
    return frozenset(name for name, route in config.routes.items() if route.data == "personal" or name in by_process)


def build_app(config: Config, *, clock: Clock = MONOTONIC,
              transports: Mapping[str, ProviderTransport] | None = None,
              wall: Callable[[], datetime] = _utc_now, lead: bool = True, audit_key: bytes | None = None,
              data_keys: ContentKeys | None = None, environ: Mapping[str, str] | None = None) -> App:
    """`lead`: this process may take the lead role (the monitor, notifications, schedules), decided by the
    store's lead lease across workers and replicas; False: it only serves."""
    bus = EventBus(maxsize=config.events.queue_size)
    transports = transports if transports is not None else http_transports(config.providers)
    replica = replica_id()
    sharing: list[SharedState] = []

    def breaker_changed(health: TargetHealth, old: BreakerState, new: BreakerState, shared: bool) -> None:
        level = logging.INFO if new is BreakerState.CLOSED else logging.WARNING
        logger.log(level, "breaker for %s: %s -> %s%s", health.label, old.value, new.value,
                   " (learnt from another replica)" if shared else "")
        bus.publish(BreakerChanged(health.label, old.value, new.value, clock.now()))
        if sharing:
            sharing[0].on_breaker_change(health, old, new, shared)

    def fault_expired(fault: Fault, hits: int) -> None:
        audit.record("fault", "releve", {"action": "expired", "fault": fault.id, "hits": hits})

    faults = FaultTable(clock=clock, wall=wall, on_expired=fault_expired,
                        regions={name: provider.region for name, provider in config.providers.items()})
    router = Router(build_routes(config, transports, clock, breaker_changed), clock, bus,
                    data=DataPolicies(config, guard=PseudonymGuard(config.personal_data_terms)), faults=faults)
    metrics = GatewayMetrics(bus)
    shared = SharedState(config.shared_state, router.routes, replica=replica, clock=clock, faults=faults)
    sharing.append(shared)
    metrics.registry.register(shared.collector())
    for plan in router.routes.values():
        for target in plan.targets:
            metrics.set_breaker(target.label, target.health.breaker.state)
    auth = ClientAuth(config.clients, required=config.auth is AuthMode.KEYS)
    recorder = RequestRecorder(metrics, AccessLog(config.server.access_log))
    size = config.server.max_body_size
    store = Store(config.storage.url, keys=data_keys)
    personal = _personal_routes(config)
    if data_keys is None and personal:
        # Stored prompts and answers of routes with personal data would sit in clear: refuse to keep them.
        logger.warning("no RELEVE_DATA_KEYS: requests on %s (personal data) will not be deferred nor kept for "
                       "Idempotency-Key replays; set RELEVE_DATA_KEYS to store their content encrypted",
                       ", ".join(sorted(personal)))
    page_url = (config.status_page.public_url.rstrip("/") or "") + "/status"
    links: list[Callable[[], str | None]] = []
    runner = JobRunner(store, router, wall=wall, callback_secret=config.jobs.callback_secret,
                       concurrency=config.jobs.concurrency)
    deferrer = StoreDeferrer(store, runner, wall=wall,
                             max_age_for=lambda route: config.routes[route].degraded.defer_max_age)
    modes = DegradedModes(config, deferrer=deferrer, idempotency=StoreIdempotency(store, wall=wall),
                          incident_link=lambda: links[0]() if links else None,
                          no_stored_content=personal if data_keys is None else frozenset())
    metrics.watch_caches({name: policy.cache for name, policy in modes.policies.items() if policy.cache is not None})
    priorities = {name: _PRIORITY[client.priority] for name, client in config.clients.items()
                  if client.priority is not Priority.NORMAL}
    apis = (OpenAIApi(router, auth, recorder, max_body_size=size, modes=modes, priorities=priorities),
            AnthropicApi(router, auth, recorder, max_body_size=size, modes=modes, priorities=priorities))
    channels = Channels.from_config(config)
    notifier = Notifier(store, channels, clock=wall)
    audit = AuditLog(store, key=audit_key, wall=wall, spool=AuditSpool(Path(config.storage.spool_dir), replica))
    metrics.registry.register(audit.collector())
    leads: list[Outages] = []
    monitor = Monitor(config, router.routes, metrics, transports, store, clock=clock, wall=wall,
                      channels=channels.ids, notify=notifier.wake, audit=audit.record,
                      fence=lambda: leads[0].leadership.fence())
    admin = AdminApi(config, store, channels.ids, wake=notifier.wake, now=wall, audit=audit.record, faults=faults)
    status = StatusPage(store, config.status_page, now=wall)
    config_hash = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
    schedule = RecoverySchedule(config, environ=environ or {}, wall=wall, audit=audit.record)
    traffic = TrafficRecorder(metrics, store, wall=wall, every=config.monitor.flush_every, clock=clock)
    outages = Outages(store, monitor, notifier, status, admin, audit, traffic, candidate=lead,
                      lease=config.storage.lead_lease, page_url=page_url, config_hash=config_hash,
                      retention=config.retention, wall=wall, schedule=schedule, replica=replica)
    links.append(outages.incident_link)
    leads.append(outages)
    batch_runner = BatchRunner(store, router, wall=wall, concurrency=config.batches.concurrency)
    batch_api = BatchApi(store, auth=auth, wall=wall, max_file_bytes=config.batches.max_file_size,
                         wake=batch_runner.wake)
    backlog = Backlog(runner, JobsApi(store, auth=auth), batch_runner, batch_api)
    return App(config, router, apis, metrics, bus, transports, outages, backlog, shared)


def _error(message: str, code: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code,
                                   "param": None}})
