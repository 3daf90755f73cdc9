"""The drill runner: a game day against a running gateway, over HTTP, with a journal.

It talks to the gateway as an operator and a client would (nothing in-process),
so the same drill runs against the simulators and against production:

1. check the steady-state hypothesis with synthetic requests (marked
   `x-releve-drill: <id>`); if it does not hold, inject nothing and stop;
2. inject the faults through `POST /admin/faults`, each with a TTL;
3. send probes at the experiment's rate for its duration, reading who served
   each one (`x-releve-target`), and watch `GET /admin/incidents`;
4. roll back, always (`DELETE /admin/faults/{id}`), even when interrupted;
   a drill killed outright leaves faults only until their TTL;
5. check the hypothesis again, then write the journal.

Failover time: from the fault's start to the first success served by another
target than the one that served the steady state. Detection time: from the
fault's start to the incident the gateway opened (both on the gateway's clock).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from releve.config import Config
from releve.gateway import DRILL_HEADER
from releve.impact import process_cost
from releve.store import TrafficMinute

from ._experiment import Experiment

__all__ = ["DrillAborted", "DrillRunner", "DrillSample", "check_phase", "new_drill_id"]

Json = dict[str, Any]
Progress = Callable[[str], None]
NotificationReader = Callable[[str], Sequence[Mapping[str, Any]]]
_IN_FLIGHT = 200
_ADMIN_TIMEOUT = aiohttp.ClientTimeout(total=10)
EXIT_HELD, EXIT_DEVIATED, EXIT_ABORTED = 0, 1, 2


class DrillAborted(Exception):
    """The drill could not go on (gateway unreachable, wrong key, refused fault); `status`: the HTTP answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_drill_id(now: datetime | None = None) -> str:
    """`drill-20260301T101500Z-3fa2`: sortable, and unique enough to tell two drills' traffic apart."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"drill-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass(slots=True)
class DrillSample:
    """One synthetic request: when it left and came back (seconds since the drill started), and who answered."""

    phase: str
    sent: float
    done: float
    status: int | None
    target: str | None
    degraded: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Answered in full by a target; a degraded answer (cache, static, deferred) does not count."""
        return self.status == 200 and self.error is None and self.degraded is None and self.target is not None

    @property
    def latency(self) -> float:
        return self.done - self.sent

    def to_json(self) -> list[Any]:
        return [self.phase, round(self.sent, 3), round(self.done, 3), self.status, self.target, self.degraded,
                self.error]


def check_phase(phase: str, samples: Sequence[DrillSample], min_ratio: float, max_p95: float) -> dict[str, Any]:
    """Does the hypothesis hold over these requests? With the counts and reasons, for the journal."""
    count = len(samples)
    ok = sum(1 for s in samples if s.ok)
    ratio = ok / count if count else 0.0
    latencies = sorted(s.latency for s in samples)
    p95 = latencies[min(count - 1, int(0.95 * count))] if count else None
    reasons = []
    if not count:
        reasons.append("no request was sent")
    elif ratio < min_ratio:
        reasons.append(f"{ok} of {count} requests succeeded ({ratio:.1%}, under {min_ratio:.1%})")
    if p95 is not None and p95 > max_p95:
        reasons.append(f"p95 latency {p95:.2f}s is over {max_p95:g}s")
    errors = Counter(s.error or (f"HTTP {s.status}" if s.status != 200 else f"degraded ({s.degraded})")
                     for s in samples if not s.ok)
    return {"phase": phase, "requests": count, "successes": ok, "success_ratio": round(ratio, 4),
            "p95_latency": None if p95 is None else round(p95, 3), "held": not reasons, "reasons": reasons,
            "by_target": dict(Counter(s.target for s in samples if s.ok and s.target)),
            "failures": dict(errors.most_common(5))}


class DrillRunner:
    """Runs one experiment against the gateway at `url`; `run()` returns the journal (a JSON-able dict)."""

    def __init__(self, experiment: Experiment, *, url: str, admin_key: str | None = None,
                 client_key: str | None = None, drill_id: str | None = None, config: Config | None = None,
                 progress: Progress = lambda line: None, notifications: NotificationReader | None = None,
                 poll_every: float = 1.0) -> None:
        self.drill_id = drill_id or new_drill_id()
        self.experiment = experiment.with_drill(self.drill_id)
        self._url = url.rstrip("/")
        self._admin = {"authorization": f"Bearer {admin_key}"} if admin_key else {}
        self._client = {DRILL_HEADER.decode(): self.drill_id,
                        **({"authorization": f"Bearer {client_key}"} if client_key else {})}
        self._config = config
        self._progress = progress
        self._notifications = notifications
        self._poll_every = poll_every
        self._t0 = 0.0
        self._samples: list[DrillSample] = []
        self._incidents: list[dict[str, Any]] = []
        self._notes: list[str] = []

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> dict[str, Any]:
        self._t0 = time.monotonic()
        started = datetime.now(UTC)
        journal: dict[str, Any] = {
            "drill": self.drill_id, "journal_version": 1, "gateway": self._url, "started_at": _iso(started),
            "experiment": self.experiment.to_json(), "builtin": self.experiment.builtin, "faults": [],
            "rollbacks": [], "notes": self._notes}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=_IN_FLIGHT)) as session:
            try:
                await self._run(session, journal)
            except DrillAborted as exc:
                journal.update(status="aborted", reason=str(exc))
            except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the rollbacks ran; keep the journal
                journal.update(status="interrupted", reason="the drill was interrupted; its faults were rolled back "
                                                            "(see rollbacks)")
        ended = datetime.now(UTC)
        journal.update(ended_at=_iso(ended), duration_seconds=round((ended - started).total_seconds(), 3),
                       samples=[s.to_json() for s in self._samples],
                       exit_code=EXIT_HELD if journal["status"] == "completed" else
                       EXIT_DEVIATED if journal["status"] == "deviated" else EXIT_ABORTED)
        return journal

    async def _run(self, session: aiohttp.ClientSession, journal: dict[str, Any]) -> None:
        experiment = self.experiment
        hypothesis = experiment.hypothesis
        await self._preflight(session)
        self._progress(f"drill {self.drill_id} against {self._url}: {experiment.title}")
        self._progress(f"steady state before: {hypothesis.requests} requests on route {hypothesis.route}")
        checks = {"before": self._check("before", await self._traffic(session, "before", count=hypothesis.requests))}
        journal["hypothesis"] = {"title": hypothesis.describe(), **checks, "held": checks["before"]["held"]}
        primary = journal["primary"] = _most_served(s for s in self._samples if s.phase == "before")
        if not checks["before"]["held"]:
            journal.update(status="deviated", reason="the steady state did not hold before the faults, so nothing "
                           "was injected (" + "; ".join(checks["before"]["reasons"]) + ")")
            return
        injected: list[dict[str, Any]] = []
        watch: asyncio.Task[None] | None = None
        fault_start = 0.0
        try:
            try:
                for spec in experiment.method.faults:
                    fault = await self._admin_call(session, "POST", "/admin/faults", spec.to_json(), expect=201)
                    injected.append(fault)
                    if spec.ttl < experiment.method.duration:
                        self._notes.append(f"fault {fault['id']} ends at its TTL ({spec.ttl:g}s), before the drill's "
                                           f"{experiment.method.duration:g}s: the probes saw the recovery too")
                    self._progress(f"fault {fault['id']} injected: {spec.kind.value} on {spec.scope} "
                                   f"(ends by itself at {fault['expires_at']})")
                    if len(injected) == 1:
                        fault_start = self._now()
                        watch = asyncio.create_task(self._watch_incidents(session, _parse_iso(fault["created_at"])))
                journal.update(faults=injected, fault_started_at=injected[0]["created_at"],
                               fault_started=round(fault_start, 3))
                self._progress(f"probes for {experiment.method.duration:g}s at {experiment.probes.rate:g}/s")
                during = await self._traffic(session, "during", duration=experiment.method.duration)
            finally:  # rollbacks always run, even on Ctrl-C (a second one cannot stop them)
                journal["rollbacks"] = await asyncio.shield(self._rollback(session, injected))
                fault_end = journal["fault_ended"] = round(self._now(), 3)
            checks["during"] = self._check("during", during)
            self._progress(f"steady state after: {hypothesis.requests} requests")
            after = await self._traffic(session, "after", count=hypothesis.requests)
            checks["after"] = self._check("after", after)
        finally:
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
        held = all(check["held"] for check in checks.values())
        journal["hypothesis"] = {"title": hypothesis.describe(), **checks, "held": held}
        journal["status"] = "completed" if held else "deviated"
        if not held:
            journal["reason"] = "the hypothesis did not hold " + "; ".join(
                f"{phase} the faults: {', '.join(check['reasons'])}" for phase, check in checks.items()
                if not check["held"])
        journal.update(self._measures(primary, fault_start, fault_end, during, after))
        journal["detection"] = self._detection(injected[0]["created_at"])
        journal["notifications"] = await self._read_notifications(journal["detection"].get("incident"))
        journal["cost"] = self._cost(journal["requests"])

    def _check(self, phase: str, samples: Sequence[DrillSample]) -> dict[str, Any]:
        hypothesis = self.experiment.hypothesis
        check = check_phase(phase, samples, hypothesis.min_success_ratio, hypothesis.max_p95_latency)
        verdict = "holds" if check["held"] else "does NOT hold: " + "; ".join(check["reasons"])
        self._progress(f"{phase}: {check['successes']}/{check['requests']} ok, p95 "
                       f"{_seconds(check['p95_latency'])}; hypothesis {verdict}")
        return check

    # --- HTTP -----------------------------------------------------------------------------------------

    async def _preflight(self, session: aiohttp.ClientSession) -> None:
        listing = await self._admin_call(session, "GET", "/admin/faults", expect=200)
        if listing.get("faults"):
            self._notes.append(f"{len(listing['faults'])} fault(s) were already set before this drill (another "
                               "drill?); they may change its results")

    async def _admin_call(self, session: aiohttp.ClientSession, method: str, path: str,
                          body: Mapping[str, Any] | None = None, *, expect: int) -> dict[str, Any]:
        try:
            async with session.request(method, self._url + path, headers=self._admin, timeout=_ADMIN_TIMEOUT,
                                       data=None if body is None else orjson.dumps(body)) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DrillAborted(f"cannot reach the gateway at {self._url} ({type(exc).__name__}: {exc})") from None
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            data = {}
        if status != expect:
            message = data.get("error", {}).get("message") if isinstance(data, dict) else None
            raise DrillAborted(f"{method} {path} answered {status}: {message or payload[:200]!r}", status)
        if not isinstance(data, dict):
            raise DrillAborted(f"{method} {path} answered something else than a JSON object")
        return data

    async def _rollback(self, session: aiohttp.ClientSession, injected: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Delete every fault this drill set; what could not be deleted still ends at its TTL."""
        done = []
        for fault in injected:
            outcome: dict[str, Any] = {"fault": fault["id"], "at": round(self._now(), 3)}
            try:
                removed = await self._admin_call(session, "DELETE", f"/admin/faults/{fault['id']}", expect=200)
            except DrillAborted as exc:
                gone = exc.status == 404
                outcome["outcome"] = "already gone (expired)" if gone else f"failed: {exc}"
                if not gone:
                    outcome["expires_at"] = fault["expires_at"]
                    self._progress(f"[red]could not delete fault {fault['id']}[/]: it ends at its TTL, "
                                   f"{fault['expires_at']}")
            else:
                outcome.update(outcome="deleted", hits=removed.get("hits", 0))
                self._progress(f"fault {fault['id']} deleted ({removed.get('hits', 0)} attempts hit)")
            done.append(outcome)
        return done

    async def _traffic(self, session: aiohttp.ClientSession, phase: str, *, count: int | None = None,
                       duration: float | None = None) -> list[DrillSample]:
        """Open-loop synthetic requests at the probes' rate: `count` of them, or for `duration` seconds."""
        interval = 1.0 / self.experiment.probes.rate
        samples: list[DrillSample] = []
        tasks: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(_IN_FLIGHT)
        start = time.monotonic()
        index = 0
        last_report = start
        try:
            while True:
                at = start + index * interval
                if (count is not None and index >= count) or (duration is not None and at >= start + duration):
                    break
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await limit.acquire()
                task = asyncio.create_task(self._probe(session, phase, samples))
                task.add_done_callback(lambda _: limit.release())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                index += 1
                if duration is not None and time.monotonic() - last_report >= 5.0:
                    last_report = time.monotonic()
                    self._progress(_tally_line(phase, time.monotonic() - start, samples))
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return samples

    async def _probe(self, session: aiohttp.ClientSession, phase: str, samples: list[DrillSample]) -> None:
        probes = self.experiment.probes
        body = {"model": self.experiment.hypothesis.route, "stream": probes.stream, "max_tokens": 64,
                "messages": [{"role": "user", "content": probes.prompt}]}
        sent = self._now()
        status = target = degraded = error = None
        try:
            async with session.post(self._url + "/v1/chat/completions", data=orjson.dumps(body),
                                    headers={"content-type": "application/json", **self._client},
                                    timeout=aiohttp.ClientTimeout(total=probes.timeout)) as response:
                payload = await response.read()
                status = response.status
                target = response.headers.get("x-releve-target")
                degraded = response.headers.get("x-releve-degraded")
                if status == 200 and probes.stream and (b"data: [DONE]" not in payload
                                                        or b'data: {"error"' in payload):
                    error = "stream broken"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        samples.append(DrillSample(phase, sent, self._now(), status, target, degraded, error))
        self._samples.append(samples[-1])

    async def _watch_incidents(self, session: aiohttp.ClientSession, since: datetime) -> None:
        """Incidents the gateway opened since the fault started, polled until the drill ends."""
        while True:
            try:
                listing = await self._admin_call(session, "GET", "/admin/incidents", expect=200)
            except DrillAborted as exc:
                self._notes.append(f"incidents could not be read: {exc}")
                return
            for incident in listing.get("incidents", []):
                created = _parse_iso(incident.get("created_at"))
                if created >= since - timedelta(seconds=1) and not any(i["id"] == incident["id"]
                                                                       for i in self._incidents):
                    self._incidents.append(incident)
                    self._progress(f"incident {incident['id']} opened: {incident['name']['en']}")
            await asyncio.sleep(self._poll_every)

    # --- what the drill measured ----------------------------------------------------------------------

    def _measures(self, primary: str | None, fault_start: float, fault_end: float, during: Sequence[DrillSample],
                  after: Sequence[DrillSample]) -> dict[str, Any]:
        failover = next((s.done - fault_start for s in sorted(during, key=lambda s: s.done)
                         if s.ok and s.target != primary), None)
        back = next((s.done - fault_end for s in sorted(after, key=lambda s: s.done)
                     if s.ok and s.target == primary), None)
        served = Counter("degraded" if s.degraded else "failed" if not s.ok else
                         "primary" if s.target == primary else "fallback" for s in during)
        if failover is None:
            self._notes.append("no request was served by another target during the faults: no failover time")
        requests = {"primary": served["primary"], "fallback": served["fallback"], "degraded": served["degraded"],
                    "failed": served["failed"], "total": len(during)}
        return {"failover_seconds": None if failover is None else round(failover, 3),
                "primary_back_seconds": None if back is None else round(back, 3),
                "fallbacks": dict(Counter(s.target for s in during if s.ok and s.target != primary)),
                "requests": requests}

    def _detection(self, fault_created_at: str) -> dict[str, Any]:
        start = _parse_iso(fault_created_at)
        if not self._incidents:
            return {"incident": None, "detection_seconds": None,
                    "note": "no incident was opened during the drill (detection off, thresholds not reached, or "
                            "incidents not readable)"}
        incident = min(self._incidents, key=lambda i: i["created_at"])
        seconds = (_parse_iso(incident["created_at"]) - start).total_seconds()
        return {"incident": {key: incident.get(key) for key in ("id", "name", "status", "impact", "automatic",
                                                                 "components", "created_at")},
                "detection_seconds": round(max(0.0, seconds), 3), "note": None}

    async def _read_notifications(self, incident: Mapping[str, Any] | None) -> dict[str, Any]:
        if incident is None:
            return {"visible": self._notifications is not None, "items": [], "note": "no incident, no notification"}
        if self._notifications is None:
            return {"visible": False, "items": [],
                    "note": "not visible from the admin API: see the notifier's log or the receivers"}
        try:
            items = await asyncio.to_thread(self._notifications, incident["id"])
        except Exception as exc:  # the store is the gateway's: reading it is a courtesy, not the drill
            return {"visible": False, "items": [], "note": f"could not read the outbox: {exc}"}
        return {"visible": True, "items": [dict(item) for item in items],
                "note": None if items else "none queued for this incident (no notification channel configured?)"}

    def _cost(self, requests: Mapping[str, int]) -> dict[str, Any]:
        """Per hour of an outage like this one, at the drill's rates: `impact.process_cost` on its counts."""
        config = self._config
        route = self.experiment.hypothesis.route
        if config is None:
            return {"computed": False, "note": "not computed: the drill ran without releve.yaml (--config)"}
        processes = {name: process for name, process in config.processes.items() if route in process.routes}
        if not processes or not requests["total"]:
            return {"computed": False, "note": f"not computed: no process in releve.yaml uses route {route!r}"}
        start = datetime(2000, 1, 1, tzinfo=UTC)  # any whole hour: only the proportions matter
        rows = [TrafficMinute(route, start + timedelta(minutes=m), served=requests["primary"],
                              fallback=requests["fallback"], degraded=requests["degraded"], failed=requests["failed"])
                for m in range(60)]
        costs = [process_cost(name, process, rows, (), start, start + timedelta(hours=1),
                              degraded_weight=config.impact.degraded_weight) for name, process in processes.items()]
        items = [{"process": cost.process, "avoided_per_hour": round(cost.avoided, 2),
                  "loss_per_hour": round(cost.loss, 2), "saved_fraction": round(cost.saved_fraction, 4),
                  "loss_fraction": round(cost.loss_fraction, 4)} for cost in costs]
        return {"computed": True, "currency": config.currency, "processes": items,
                "avoided_per_hour": round(sum(cost.avoided for cost in costs), 2),
                "loss_per_hour": round(sum(cost.loss for cost in costs), 2),
                "note": "per hour of an outage like this one, with the share of requests the drill saw served by "
                        "the fallback and failed (cost model: docs/impact.md)"}


def _most_served(samples: Iterable[DrillSample]) -> str | None:
    served = Counter(s.target for s in samples if s.ok and s.target)
    return served.most_common(1)[0][0] if served else None


def _tally_line(phase: str, elapsed: float, samples: Sequence[DrillSample]) -> str:
    by = Counter(s.target if s.ok else "failed" for s in samples)
    return f"{phase} {elapsed:5.1f}s: " + ", ".join(f"{name} {n}" for name, n in by.most_common())


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: Any) -> datetime:
    if not isinstance(value, str):
        return datetime.min.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
