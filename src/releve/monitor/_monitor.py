"""The monitor: turns the gateway's events, probes and providers' status feeds into statuses and incidents.

It runs beside the request path, never on it: events arrive through the bus
pump, counters are sampled once per tick, and every store write happens in a
worker thread from the tick task.

Components: each target (`target:provider/model`), route (`route:name`) and
business process (`process:name`). Targets and routes are debounced
(`down_after` / `up_after` evaluations); a process is the worst of its routes.

Only the lead process runs it, and the role may move: `start()` after
`close()` starts detection afresh from the stored statuses. When the store
does not answer, detection goes on; status changes, uptime seconds and
incident decisions are kept and written at a later tick. Traffic for cost
reports is not recorded here but by each process's `TrafficRecorder`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from releve.clock import Clock
from releve.config import Config
from releve.errors import StoreError
from releve.gateway import (
    LATENCY_BUCKETS,
    AttemptFailed,
    BreakerState,
    Event,
    GatewayMetrics,
    RoutePlan,
)
from releve.gateway.providers import ProviderTransport
from releve.store import (
    Component,
    ComponentKind,
    ComponentStatus,
    IncidentStatus,
    Store,
    Text,
    worst,
)

from ._assess import RouteView, TargetSignals, assess_route, assess_target, rate_status
from ._feeds import FeedPoller
from ._hysteresis import Debounced
from ._incidents import IncidentKeeper
from ._messages import Situation
from ._probes import Prober, plan_probes
from ._window import SlidingCounts

__all__ = ["Monitor"]

logger = logging.getLogger("releve.monitor")

# Upstream answers that are the request's own fault, not the provider's: they say nothing about health.
_CLIENT_MISTAKES = frozenset({"http_400", "http_404", "http_413", "http_422"})
_SERVED = frozenset({"served", "fallback"})
_MAINTENANCE_EVERY = 10.0
_T = TypeVar("_T")


class Monitor:
    def __init__(self, config: Config, routes: Mapping[str, RoutePlan], metrics: GatewayMetrics,
                 transports: Mapping[str, ProviderTransport], store: Store, *, clock: Clock,
                 wall: Callable[[], datetime], channels: Sequence[str] = (),
                 notify: Callable[[], None] = lambda: None,
                 audit: Callable[[str, str, dict[str, Any]], None] = lambda kind, actor, data: None,
                 fence: Callable[[], tuple[str, int] | None] | None = None) -> None:
        """`fence` raises `StoreError` once this process is no longer the lead: called before each lead write;
        what it returns (the lead lease's name and fencing token) goes with incident writes."""
        self._config = config.monitor
        self._routes = routes
        self._metrics = metrics
        self._store = store
        self._clock = clock
        self._wall = wall
        self._fence = fence
        cfg = self._config
        self._targets: dict[str, tuple[str, str]] = {}   # label -> (provider, model)
        for plan in routes.values():
            for target in plan.targets:
                self._targets.setdefault(target.label, (target.provider, target.model))
        self._target_windows: dict[str, SlidingCounts] = {}
        self._route_windows: dict[str, SlidingCounts] = {}
        self._target_status: dict[str, Debounced] = {}
        self._route_rate: dict[str, Debounced] = {}
        self._failures: dict[str, int] = {}
        self._first_failure: dict[str, float] = {}     # label -> monotonic time of the first failure of a streak
        self._probe_failures: dict[str, int] = {}
        self._last_counts: dict[tuple[str, str, str], tuple[int, tuple[int, ...]]] = {}
        self._processes = {name: process for name, process in config.processes.items()}
        self._public = (ComponentKind.PROCESS,) if self._processes else (ComponentKind.ROUTE,)
        self.components = self._components(config)
        self.statuses: dict[str, ComponentStatus] = {c.id: ComponentStatus.OPERATIONAL for c in self.components}
        self._names = {c.id: c.name for c in self.components}
        self._maintenance: set[str] = set()
        self._maintenance_read = -1e18
        self._uptime: dict[tuple[str, str, ComponentStatus], float] = {}
        self._unsaved: dict[str, datetime] = {}       # component id -> when its latest unwritten change happened
        self._refused: StoreError | None = None      # the store's first refusal in this tick
        self._store_down = False                      # said once per outage
        self._last_tick: float | None = None
        self._last_flush = clock.now()
        self._running = False
        self._reset({})
        provider_feeds = {name: p.status_feed for name, p in config.providers.items() if p.status_feed}
        self.feeds = FeedPoller(provider_feeds, cfg.status_feed_every)
        probe_configs = {name: p.probe or cfg.probes for name, p in config.providers.items()}
        plans = plan_probes([(provider, model, label) for label, (provider, model) in self._targets.items()],
                            probe_configs)
        self.prober = Prober(plans, transports, clock, self._probed)
        self.incidents = IncidentKeeper(store, channels, cfg.resolve_after, notify, audit, fence)
        self._task: asyncio.Task[None] | None = None

    def _components(self, config: Config) -> list[Component]:
        now = self._wall()
        out = []
        for position, (name, process) in enumerate(config.processes.items()):
            title = process.name or Text(name, name)
            description = process.description
            out.append(Component(f"process:{name}", ComponentKind.PROCESS, Text(title.fr, title.en),
                                 ComponentStatus.OPERATIONAL, now,
                                 Text(description.fr, description.en) if description else None, position))
        base = len(out)
        show_routes = config.status_page.show_routes or not config.processes
        for position, name in enumerate(self._routes):
            out.append(Component(f"route:{name}", ComponentKind.ROUTE, Text(name, name), ComponentStatus.OPERATIONAL,
                                 now, None, base + position, public=show_routes))
        base = len(out)
        for position, label in enumerate(self._targets):
            out.append(Component(f"target:{label}", ComponentKind.TARGET, Text(label, label),
                                 ComponentStatus.OPERATIONAL, now, None, base + position, public=False))
        return out

    # --- inputs (called on the event loop, off the request path) ----------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, AttemptFailed) and event.kind not in _CLIENT_MISTAKES:
            label = event.target
            if label in self._targets:
                self._failures[label] = self._failures.get(label, 0) + 1
                self._first_failure.setdefault(label, event.at)

    def _probed(self, labels: Sequence[str], ok: bool, detail: str, at: float) -> None:
        for label in labels:
            window = self._target_windows[label]
            if ok:
                window.add(ok=1)
                self._probe_failures[label] = 0
            else:
                window.add(failed=1)
                self._probe_failures[label] += 1
                self._first_failure.setdefault(label, at)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start (or start again after `close()`, when this process becomes the lead again); needs the store."""
        if self._running:
            return
        await asyncio.to_thread(self._store.sync_components, self.components)
        stored = {c.id: c.status for c in await asyncio.to_thread(self._store.components)}
        await self.incidents.resume()
        self._reset(stored)
        if self._config.enabled:
            self.prober.start()
            self.feeds.start()
            self._task = asyncio.create_task(self._loop(), name="releve-monitor")
        self._running = True

    def _reset(self, stored: Mapping[str, ComponentStatus]) -> None:
        """Detection starts afresh from the stored statuses: what this process saw before a pause is stale.

        A restart (or a new lead) does not pretend everything is fine: statuses
        start from what was last known and recover through the usual hysteresis.
        """
        cfg = self._config
        size = max(1, round(cfg.window / cfg.evaluate_every))
        for component_id in self.statuses:
            self.statuses[component_id] = stored.get(component_id, ComponentStatus.OPERATIONAL)

        def seed(component_id: str) -> Debounced:
            status = self.statuses[component_id]
            if status is ComponentStatus.UNDER_MAINTENANCE:
                status = ComponentStatus.OPERATIONAL
            return Debounced(cfg.down_after, cfg.up_after, status)

        self._target_windows = {label: SlidingCounts(size, LATENCY_BUCKETS) for label in self._targets}
        self._route_windows = {name: SlidingCounts(size) for name in self._routes}
        self._target_status = {label: seed(f"target:{label}") for label in self._targets}
        self._route_rate = {name: seed(f"route:{name}") for name in self._routes}
        self._failures.clear()
        self._first_failure.clear()
        self._probe_failures = dict.fromkeys(self._targets, 0)
        self._last_counts = self._metrics.request_counts()
        self._maintenance = set()
        self._maintenance_read = -1e18
        self._unsaved.clear()     # the store holds what the lead in between decided
        self._last_tick = None    # uptime counts from the first tick, not across the pause
        self._last_flush = self._clock.now()

    async def close(self) -> None:
        """Stop detection (this process is no longer the lead, or shuts down); uptime is flushed, best effort."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.prober.close()
        await self.feeds.close()
        self._running = False
        self._refused = None
        if not await self._flush_uptime():
            logger.warning("uptime seconds not written at close: kept for the next start")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.evaluate_every)
            try:
                await self.tick()
            except Exception:
                logger.exception("monitor evaluation failed; trying again at the next tick")

    # --- one evaluation -----------------------------------------------------------------------

    def _wall_at(self, mono: float, now_mono: float, now_wall: datetime) -> datetime:
        return now_wall - timedelta(seconds=max(0.0, now_mono - mono))

    def _sample(self) -> None:
        counts = self._metrics.request_counts()
        for key, (count, buckets) in counts.items():
            before_count, before_buckets = self._last_counts.get(key, (0, ()))
            delta = count - before_count
            if delta <= 0:
                continue
            route, target, outcome = key
            if outcome in _SERVED:
                if target in self._target_windows:
                    window = self._target_windows[target]
                    window.add(ok=delta)
                    window.add_latency([n - (before_buckets[i] if before_buckets else 0)
                                        for i, n in enumerate(buckets)])
                if route in self._route_windows:
                    self._route_windows[route].add(ok=delta)
            elif outcome == "failed" and route in self._route_windows:
                self._route_windows[route].add(failed=delta)
        self._last_counts = counts
        for label, failed in self._failures.items():
            self._target_windows[label].add(failed=failed)
        self._failures.clear()
        for window in (*self._target_windows.values(), *self._route_windows.values()):
            window.close()

    def _breaker_open(self, label: str) -> bool:
        return any(t.health.breaker.state is BreakerState.OPEN
                   for plan in self._routes.values() for t in plan.targets if t.label == label)

    async def tick(self) -> None:
        cfg = self._config
        now_mono = self._clock.now()
        now = self._wall()
        self._refused = None
        self._sample()
        if now_mono - self._maintenance_read >= _MAINTENANCE_EVERY:
            self._maintenance_read = now_mono     # a failed read is tried again at the usual pace
            await self._read_maintenance(now)
        new: dict[str, ComponentStatus] = {}
        started: dict[str, float] = {}
        for label, (provider, _) in self._targets.items():
            window = self._target_windows[label]
            signals = TargetSignals(
                breaker_open=self._breaker_open(label),
                failure_rate=window.failure_rate(cfg.min_samples),
                p95=window.percentile(0.95, cfg.min_samples),
                probe_failures=self._probe_failures[label],
                feed=self.feeds.latest.get(provider),
            )
            raw = assess_target(signals, cfg)
            self._target_status[label].feed(raw)
            settled = self._target_status[label].status
            if raw is ComponentStatus.OPERATIONAL and settled is ComponentStatus.OPERATIONAL:
                self._first_failure.pop(label, None)
            elif label in self._first_failure:
                started[label] = self._first_failure[label]
            else:
                started[label] = self._first_failure.setdefault(label, now_mono)
            new[f"target:{label}"] = settled
        views: dict[str, RouteView] = {}
        for name, plan in self._routes.items():
            targets = [(t.label, new[f"target:{t.label}"]) for t in plan.targets]
            view = assess_route(targets, None, cfg)
            rate = self._route_windows[name].failure_rate(cfg.min_samples)
            self._route_rate[name].feed(rate_status(rate, cfg))
            views[name] = view
            new[f"route:{name}"] = worst((view.status, self._route_rate[name].status))
        for name, process in self._processes.items():
            new[f"process:{name}"] = worst(tuple(new[f"route:{route}"] for route in process.routes))
        for component_id in self._maintenance:
            if component_id in new:
                new[component_id] = ComponentStatus.UNDER_MAINTENANCE
        await self._record(new, now_mono, now)
        situation, first = self._situation(views, started)
        started_at = self._wall_at(first, now_mono, now) if first is not None else None
        if self._refused is None:
            # Decided again at every tick from the statuses: a decision the store refused is retried at the next.
            try:
                await self.incidents.observe(situation, started_at, now)
            except StoreError as exc:
                self._failed(exc)
        else:
            self.incidents.note(situation, now)

    def _situation(self, views: Mapping[str, RouteView],
                   started: Mapping[str, float]) -> tuple[Situation, float | None]:
        affected = []
        for component in self.components:
            status = self.statuses[component.id]
            if component.kind in self._public and status.rank >= ComponentStatus.DEGRADED_PERFORMANCE.rank:
                affected.append((component.id, component.name, status))
        if not affected:
            return Situation((), (), (), ()), None
        routes = self._affected_routes([component_id for component_id, _, _ in affected])
        failing: dict[str, ComponentStatus] = {}
        moved: list[tuple[str, str]] = []
        stopped: list[str] = []
        for name in routes:
            view = views[name]
            for label in view.failing:
                failing[label] = self.statuses[f"target:{label}"]
            if view.serving is not None:
                moved.append((self._routes[name].targets[0].label, view.serving))
            if self.statuses[f"route:{name}"] is ComponentStatus.MAJOR_OUTAGE:
                stopped.append(name)
        reported: set[tuple[str, ComponentStatus]] = set()
        for label in failing:
            provider = self._targets[label][0]
            said = self.feeds.latest.get(provider)
            if said is not None and said.rank >= ComponentStatus.DEGRADED_PERFORMANCE.rank:
                reported.add((provider, said))
        feeds = tuple(sorted(reported))
        times = [started[label] for label in failing if label in started]
        situation = Situation(tuple(affected), tuple(failing.items()), tuple(moved), tuple(stopped), feeds)
        return situation, min(times) if times else None

    def _affected_routes(self, component_ids: Sequence[str]) -> list[str]:
        routes: list[str] = []
        for component_id in component_ids:
            kind, _, name = component_id.partition(":")
            names = self._processes[name].routes if kind == "process" else [name]
            routes += [route for route in names if route not in routes]
        return routes

    async def _record(self, new: Mapping[str, ComponentStatus], now_mono: float, now: datetime) -> None:
        elapsed = self._config.evaluate_every if self._last_tick is None else now_mono - self._last_tick
        self._last_tick = now_mono
        day = now.date().isoformat()
        for component_id, status in self.statuses.items():
            key = (component_id, day, status)
            self._uptime[key] = self._uptime.get(key, 0.0) + elapsed
        changed = False
        for component_id, status in new.items():
            if self.statuses[component_id] is not status:
                logger.info("%s: %s -> %s", component_id, self.statuses[component_id].value, status.value)
                self.statuses[component_id] = status
                self._unsaved[component_id] = now
                changed = True
        for component_id, at in list(self._unsaved.items()):
            # The latest status, dated by its change: one written late still says since when it holds.
            try:
                await self._call(self._store.set_component_status, component_id, self.statuses[component_id], at,
                                 fenced=True)
            except StoreError:
                break
            del self._unsaved[component_id]
        # Flushed on every change too, so the page's uptime bar shows an outage as it happens.
        if changed or now_mono - self._last_flush >= self._config.flush_every:
            self._last_flush = now_mono
            await self._flush_uptime()

    async def _flush_uptime(self) -> bool:
        """Uptime seconds go to the store every `flush_every` and at close; kept for the next try when refused."""
        if not self._uptime:
            return True
        pending, self._uptime = self._uptime, {}
        samples = [(component_id, date.fromisoformat(day), status, seconds)
                   for (component_id, day, status), seconds in pending.items()]
        try:
            await self._call(self._store.add_uptime, samples)
        except StoreError:
            for key, seconds in pending.items():
                self._uptime[key] = self._uptime.get(key, 0.0) + seconds
            return False
        return True

    async def _read_maintenance(self, now: datetime) -> None:
        """Which components are in a maintenance window now; windows start and end on their own.

        Unreadable: the last known set holds. A window's start or end that could
        not be written is written at a later read (the window is still unresolved).
        """
        try:
            windows = await self._call(self._store.incidents, unresolved=True, maintenance=True, limit=100)
        except StoreError:
            return
        active: set[str] = set()
        for window in windows:
            if window.scheduled_for is None or window.scheduled_until is None:
                continue
            if now >= window.scheduled_until:
                with contextlib.suppress(StoreError):
                    await self._call(
                        self._store.add_update, window.id, status=IncidentStatus.COMPLETED, at=now, fenced=True,
                        body=Text("La maintenance est terminée.", "The scheduled maintenance has been completed."))
            elif now >= window.scheduled_for:
                active.update(window.components)
                if window.status is IncidentStatus.SCHEDULED:
                    with contextlib.suppress(StoreError):
                        await self._call(
                            self._store.add_update, window.id, status=IncidentStatus.IN_PROGRESS, at=now,
                            fenced=True, body=Text("La maintenance a commencé.",
                                                   "The scheduled maintenance is in progress."))
        self._maintenance = active

    # --- the store, which may not answer --------------------------------------------------------

    def _fenced(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """In the worker thread: the lead check comes immediately before the write it guards."""
        if self._fence is not None:
            self._fence()
        return call(*args, **kwargs)

    async def _call(self, call: Callable[..., _T], *args: Any, fenced: bool = False, **kwargs: Any) -> _T:
        """A store call in a worker thread. After the store's first refusal in a tick, the tick's other calls are
        not made (each would wait as long for the same answer); they are made at the next tick."""
        if self._refused is not None:
            raise self._refused
        result: _T
        try:
            if fenced:
                result = await asyncio.to_thread(self._fenced, call, *args, **kwargs)
            else:
                result = await asyncio.to_thread(call, *args, **kwargs)
        except StoreError as exc:
            self._failed(exc)
            raise
        if self._store_down:
            self._store_down = False
            logger.warning("store answers again: the monitor writes what it kept")
        return result

    def _failed(self, exc: StoreError) -> None:
        self._refused = exc
        if not self._store_down:
            self._store_down = True
            logger.warning("monitor cannot write to the store (%s): detection goes on; statuses, uptime and "
                           "incident decisions are written when it answers", exc)
