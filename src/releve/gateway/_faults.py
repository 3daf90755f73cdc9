"""Faults the gateway injects into its own attempts, for drills (game days) against providers nobody can break.

A drill cannot make OpenAI answer 503, but the gateway can act as if it had:
right before calling a target's transport, the router asks the `FaultTable`
whether a fault applies to that attempt, and raises the `UpstreamError` a real
outage would have raised (or hangs, or waits, or cuts the stream). Everything
downstream (failover, breakers, detection, incidents, notifications) runs for
real.

Safety rules, because a drill must never leave a provider broken:
- every fault has a TTL (at most `MAX_FAULT_TTL`, 1 h); past it the fault is
  ignored and dropped, so a drill process that dies leaves nothing for long;
- `drill_only` faults touch only requests marked `x-releve-drill: <id>`.
  Their failures still count in the target's breaker, shared by every route:
  once it opens, real traffic fails over too, as it would in the real outage.

The table lives in the process's memory, not in the store, on purpose: the
request path checks one attribute instead of a table refreshed from the store;
a restarted gateway starts clean; and a drill does not depend on the store
being up (it may be what the drill breaks next). Several processes (workers,
replicas) reach the same table through the shared state (Redis), which
passes on what `listen` reports and applies the others' faults with `adopt`
and `drop`. Without it each process has its own table and an admin call
reaches one of them, so game days then run with `workers: 1` (`releve drill
run` refuses a multi-worker config without `shared_state`; the admin API
answers with the process's pid).

Cost when no fault is set: the router reads `armed`, one attribute, per
attempt (and the app once per request, to mark drill traffic only then).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

import orjson

from releve.clock import Clock
from releve.config import parse_duration
from releve.errors import InvalidRequest, UpstreamError

from ._plan import Target
from .providers import CLIENT_MISTAKES, UpstreamStream

__all__ = ["DRILL", "DRILL_HEADER", "MAX_FAULT_TTL", "Fault", "FaultKind", "FaultSpec", "FaultTable", "OpenedStream",
           "mark_drill", "parse_fault"]

logger = logging.getLogger("releve.gateway")
_T = TypeVar("_T")

DRILL_HEADER = b"x-releve-drill"
# The drill a request belongs to, set from `x-releve-drill` by the app only while a fault is armed.
DRILL: ContextVar[str | None] = ContextVar("releve_drill", default=None)
MAX_FAULT_TTL = 3600.0
_MAX_DRILL_ID = 64
_FIELDS = ("target", "provider", "region", "kind", "status", "ms", "retry_after", "probability", "drill_only",
           "drill", "ttl")


class FaultKind(StrEnum):
    ERROR = "error"              # the provider answers `status` (503 by default)
    HANG = "hang"                # connection open, no answer: the attempt times out
    LATENCY = "latency"          # `ms` more before the real call
    RATE_LIMIT = "rate_limit"    # 429 with Retry-After: `retry_after` seconds
    STREAM_CUT = "stream_cut"    # streams end after their first event, mid-answer (plain requests are untouched)


class OpenedStream(NamedTuple):
    """An upstream stream as a stream attempt returns it: the stream, the rest of its chunks, the first chunk."""

    stream: UpstreamStream
    chunks: AsyncIterator[bytes]
    first: bytes


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """What a person asked for: where (exactly one of target, provider, region), what, how often, how long."""

    kind: FaultKind
    ttl: float
    target: str | None = None
    provider: str | None = None
    region: str | None = None
    status: int | None = None        # error: the HTTP status to act out
    ms: int | None = None            # latency
    retry_after: float | None = None  # rate_limit
    probability: float = 1.0
    drill_only: bool = False
    drill: str | None = None         # with drill_only: only this drill's requests (any drill's without it)

    @property
    def scope(self) -> str:
        """`target openai/gpt-4o`, `provider openai` or `region eu`: for messages and the journal."""
        if self.target is not None:
            return f"target {self.target}"
        if self.provider is not None:
            return f"provider {self.provider}"
        return f"region {self.region}"

    def to_json(self) -> dict[str, Any]:
        """The admin API's body for this fault (what `parse_fault` reads back)."""
        body: dict[str, Any] = {"kind": self.kind.value, "ttl": self.ttl}
        for name in ("target", "provider", "region", "status", "ms", "retry_after", "drill"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.probability != 1.0:
            body["probability"] = self.probability
        if self.drill_only:
            body["drill_only"] = True
        return body


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    spec: FaultSpec
    created_at: datetime   # wall clock, for people and the audit log
    expires_at: datetime
    expires: float         # on the table's clock: what the TTL is checked against

    def to_json(self, hits: int = 0, now: float | None = None) -> dict[str, Any]:
        body = {"id": self.id, **self.spec.to_json(), "probability": self.spec.probability,
                "drill_only": self.spec.drill_only, "created_at": _iso(self.created_at),
                "expires_at": _iso(self.expires_at), "hits": hits}
        if now is not None:
            body["expires_in"] = round(max(0.0, self.expires - now), 3)
        return body


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_field")


def _number(data: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"'{name}' must be a number from {low:g} to {high:g}")
    return float(value)


def _name(data: Mapping[str, Any], name: str, known: Collection[str] | None) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _bad(f"'{name}' must be a non-empty string")
    if known is not None and value not in known:
        choices = ", ".join(sorted(known)) or "none configured"
        raise InvalidRequest(f"unknown {name} {value!r} (known: {choices})", code="unknown_" + name)
    return value


def parse_fault(data: Mapping[str, Any], *, targets: Collection[str] | None = None,
                providers: Collection[str] | None = None, regions: Collection[str] | None = None) -> FaultSpec:
    """A fault from the admin API's JSON (or an experiment's YAML); InvalidRequest names the field.

    The known names are checked when given (the gateway knows them; a drill runner may not).
    """
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS))})",
                             code="unknown_field")
    target, provider = _name(data, "target", targets), _name(data, "provider", providers)
    region = _name(data, "region", regions)
    if sum(value is not None for value in (target, provider, region)) != 1:
        raise _bad("give exactly one of 'target' (provider/model), 'provider' or 'region'")
    try:
        kind = FaultKind(str(data.get("kind")))
    except ValueError:
        raise _bad(f"'kind' must be one of {', '.join(k.value for k in FaultKind)}") from None
    if "ttl" not in data:
        raise _bad(f"'ttl' is required (at most {MAX_FAULT_TTL:g}s): a fault must end on its own")
    try:
        ttl = parse_duration(data["ttl"])
    except ValueError as exc:
        raise _bad(f"'ttl': {exc}") from None
    if not 0 < ttl <= MAX_FAULT_TTL:
        raise _bad(f"'ttl' must be more than 0 and at most {MAX_FAULT_TTL:g}s (1h)")
    status = _number(data, "status", 400, 599)
    ms = _number(data, "ms", 1, 600_000)
    retry_after = _number(data, "retry_after", 0, MAX_FAULT_TTL)
    probability = _number(data, "probability", 0, 1)
    for name, value, wanted in (("status", status, FaultKind.ERROR), ("ms", ms, FaultKind.LATENCY),
                                ("retry_after", retry_after, FaultKind.RATE_LIMIT)):
        if value is not None and kind is not wanted:
            raise _bad(f"'{name}' applies to kind {wanted.value} only")
    if kind is FaultKind.LATENCY and ms is None:
        raise _bad("kind latency needs 'ms' (milliseconds to add)")
    if status is not None and status != int(status):
        raise _bad("'status' must be a whole number")
    if probability == 0:
        raise _bad("'probability' must be more than 0")
    drill_only = data.get("drill_only", False)
    if not isinstance(drill_only, bool):
        raise _bad("'drill_only' must be true or false")
    drill = data.get("drill")
    if drill is not None and (not isinstance(drill, str) or not 0 < len(drill) <= _MAX_DRILL_ID):
        raise _bad(f"'drill' must be a drill id of 1 to {_MAX_DRILL_ID} characters")
    return FaultSpec(
        kind=kind, ttl=ttl, target=target, provider=provider, region=region,
        status=int(status) if status is not None else (503 if kind is FaultKind.ERROR else None),
        ms=int(ms) if ms is not None else None,
        retry_after=retry_after if retry_after is not None else (1.0 if kind is FaultKind.RATE_LIMIT else None),
        probability=1.0 if probability is None else probability, drill_only=drill_only, drill=drill)


def mark_drill(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Note the request's `x-releve-drill` id for `drill_only` faults (the app calls it only while armed)."""
    for name, value in headers:
        if name == DRILL_HEADER:
            DRILL.set(value[:_MAX_DRILL_ID].decode("latin-1"))
            return


class FaultTable:
    """The faults of this process, checked by the router before each attempt.

    `armed` is False whenever the table is empty: the router tests it and does nothing else.
    """

    def __init__(self, *, clock: Clock, wall: Callable[[], datetime], regions: Mapping[str, str | None] | None = None,
                 rng: random.Random | None = None,
                 on_expired: Callable[[Fault, int], None] = lambda fault, hits: None) -> None:
        self.armed = False
        self._clock = clock
        self._wall = wall
        self._regions = dict(regions or {})  # provider name -> region
        self._rng = rng or random.Random()
        self._on_expired = on_expired
        self._faults: dict[str, Fault] = {}
        self._hits: dict[str, int] = {}
        self._next_expiry = math.inf
        self._listeners: list[Callable[[str, Fault], None]] = []

    def listen(self, listener: Callable[[str, Fault], None]) -> None:
        """`listener("add" | "remove", fault)` after each change made here (not after `adopt` nor `drop`)."""
        self._listeners.append(listener)

    def adopt(self, fault_id: str, spec: FaultSpec, *, created_at: datetime, remaining: float) -> Fault | None:
        """Apply a fault another process injected, for the `remaining` seconds it has left; None if known or over."""
        self._expire()
        if fault_id in self._faults or not 0 < remaining < math.inf:
            return None
        remaining = min(remaining, spec.ttl, MAX_FAULT_TTL)  # no message may stretch a fault past its own TTL
        now, wall = self._clock.now(), self._wall()
        fault = Fault(id=fault_id, spec=spec, created_at=created_at,
                      expires_at=wall + timedelta(seconds=remaining), expires=now + remaining)
        self._faults[fault.id] = fault
        self._hits[fault.id] = 0
        self._settle()
        logger.warning("drill fault %s injected by another replica: %s %s for %gs more", fault.id, spec.kind.value,
                       spec.scope, remaining)
        return fault

    def drop(self, fault_id: str) -> None:
        """Remove a fault another process removed (no listener is told)."""
        if self._faults.pop(fault_id, None) is not None:
            self._hits.pop(fault_id, None)
            self._settle()
            logger.warning("drill fault %s removed by another replica", fault_id)

    def add(self, spec: FaultSpec) -> Fault:
        now, wall = self._clock.now(), self._wall()
        fault = Fault(id=f"flt_{secrets.token_hex(4)}", spec=spec, created_at=wall,
                      expires_at=wall + timedelta(seconds=spec.ttl), expires=now + spec.ttl)
        self._faults[fault.id] = fault
        self._hits[fault.id] = 0
        self._settle()
        logger.warning("drill fault %s injected: %s %s for %gs%s", fault.id, spec.kind.value, spec.scope, spec.ttl,
                       " (drill traffic only)" if spec.drill_only else "")
        self._tell("add", fault)
        return fault

    def remove(self, fault_id: str) -> tuple[Fault, int] | None:
        """The removed fault and how many attempts it hit; None when there is no such fault (or it expired)."""
        self._expire()
        fault = self._faults.pop(fault_id, None)
        if fault is None:
            return None
        self._settle()
        logger.warning("drill fault %s removed", fault_id)
        self._tell("remove", fault)
        return fault, self._hits.pop(fault_id, 0)

    def _tell(self, change: str, fault: Fault) -> None:
        for listener in self._listeners:
            try:
                listener(change, fault)
            except Exception:
                logger.exception("a fault-table listener failed")

    def faults(self) -> list[tuple[Fault, int]]:
        """The live faults with their hit counts, oldest first."""
        self._expire()
        return [(fault, self._hits[fault.id]) for fault in self._faults.values()]

    @property
    def now(self) -> float:
        """The table's clock, for `Fault.to_json(now=...)`."""
        return self._clock.now()

    def _expire(self) -> None:
        now = self._clock.now()
        for fault in [f for f in self._faults.values() if f.expires <= now]:
            del self._faults[fault.id]
            hits = self._hits.pop(fault.id, 0)
            logger.warning("drill fault %s expired after %gs (%d attempts hit)", fault.id, fault.spec.ttl, hits)
            self._on_expired(fault, hits)
        self._settle()

    def _settle(self) -> None:
        self.armed = bool(self._faults)
        self._next_expiry = min((f.expires for f in self._faults.values()), default=math.inf)

    def pick(self, target: Target) -> Fault | None:
        """The fault that applies to this attempt at `target`, if any (the first that matches, in order)."""
        if self._next_expiry <= self._clock.now():
            self._expire()
        drill = DRILL.get()
        for fault in self._faults.values():
            spec = fault.spec
            if spec.target is not None:
                if spec.target != target.label:
                    continue
            elif spec.provider is not None:
                if spec.provider != target.provider:
                    continue
            elif self._regions.get(target.provider) != spec.region:
                continue
            if spec.drill_only and (drill is None or (spec.drill is not None and spec.drill != drill)):
                continue
            if spec.probability < 1.0 and self._rng.random() >= spec.probability:
                continue
            self._hits[fault.id] += 1
            return fault
        return None

    async def attempt(self, target: Target, attempt: Callable[[Target], Awaitable[_T]]) -> _T:
        """Run `attempt`, or act out the fault that applies to it; called by the router only while armed."""
        fault = self.pick(target)
        if fault is None:
            return await attempt(target)
        spec = fault.spec
        what = f"drill fault {fault.id}"
        if spec.kind is FaultKind.ERROR:
            status = spec.status or 503
            if status in CLIENT_MISTAKES:
                body = orjson.dumps({"error": {"message": f"Relève {what}: HTTP {status}",
                                               "type": "invalid_request_error", "code": "drill_fault"}})
                raise UpstreamError(f"{status} ({what})", status=status, retryable=False, body=body)
            raise UpstreamError(f"{status} ({what})", status=status)
        if spec.kind is FaultKind.RATE_LIMIT:
            raise UpstreamError(f"429 (rate limited, {what})", status=429, retry_after=spec.retry_after)
        if spec.kind is FaultKind.HANG:
            # Nothing answers: the attempt's deadline cancels this wait, as it would a silent provider.
            await asyncio.get_running_loop().create_future()
        if spec.kind is FaultKind.LATENCY:
            await self._clock.sleep((spec.ms or 0) / 1000)
            return await attempt(target)
        value = await attempt(target)
        if isinstance(value, OpenedStream):
            return _cut(value, what)  # type: ignore[return-value]  # _T is OpenedStream here
        self._hits[fault.id] -= 1  # stream_cut leaves plain requests alone: not a hit
        return value


def _cut(opened: OpenedStream, what: str) -> OpenedStream:
    """The stream as if the connection broke after its first events (never the finishing ones)."""
    events = opened.first.split(b"\n\n")
    kept = [event for event in events[:2] if event and b"[DONE]" not in event and b'"finish_reason":"' not in event]
    first = b"\n\n".join(kept) + b"\n\n" if kept else opened.first

    async def broken() -> AsyncIterator[bytes]:
        raise UpstreamError(f"the connection broke mid-stream ({what})")
        yield b""  # pragma: no cover  # makes this an async generator

    return opened._replace(first=first, chunks=broken())
