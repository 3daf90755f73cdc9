"""Fault values: what the simulator can be told to break, validated once at the edge.

A `Fault` is a plain frozen value. `parse_fault` turns an untrusted mapping (the
admin API's JSON, a CLI flag) into one, and names the offending field when it
cannot, because a drill that silently ignores a typo such as `"propability"`
tests nothing. Ranges are checked in `Fault.__post_init__` so that a `Fault`
built directly in Python is held to the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

__all__ = ["Fault", "FaultKind", "parse_fault"]


class FaultKind(StrEnum):
    """What goes wrong, and the parameters (wire names) each kind reads.

    Provider faults, each spelled the way the path's family (OpenAI, Anthropic,
    Google) spells it: `status` (status, default 500) answers that status with
    the family's error body; `rate_limit` (retry_after s, default 1) answers 429
    with `Retry-After`; `latency` (ms, jitter_ms) delays, then answers; `hang`
    (seconds, optional) answers nothing until the client leaves, then or after
    `seconds` closes the connection; `stream_cut` (after_chunks, default 1)
    closes a stream after N events, never sending its final event (`[DONE]`,
    `message_stop`, the chunk with `finishReason`), or a plain body halfway;
    `chunk_delay` (ms) waits between stream events; `malformed` sends a 200
    whose JSON (or one stream event) does not parse.

    Network faults, after Toxiproxy: `reset_peer` aborts with an RST;
    `blackhole` (seconds, optional) reads the request and sends nothing, like
    `hang`; `bandwidth` (bytes_per_second); `slicer` (size bytes per write,
    delay_ms between); `limit_data` (bytes of body, then close); `slow_close`
    (ms before the end of the body and the close).
    """

    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    LATENCY = "latency"
    HANG = "hang"
    STREAM_CUT = "stream_cut"
    CHUNK_DELAY = "chunk_delay"
    MALFORMED = "malformed"
    RESET_PEER = "reset_peer"
    BLACKHOLE = "blackhole"
    BANDWIDTH = "bandwidth"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"
    SLOW_CLOSE = "slow_close"


# Wire name -> attribute name, where they differ (`bytes` would shadow the builtin).
_ATTR = {"bytes": "limit_bytes"}
_WIRE = {attr: wire for wire, attr in _ATTR.items()}

# Per kind: (required parameters, optional parameters), as wire names.
_PARAMS: Mapping[FaultKind, tuple[frozenset[str], frozenset[str]]] = {
    FaultKind.STATUS: (frozenset(), frozenset({"status"})),
    FaultKind.RATE_LIMIT: (frozenset(), frozenset({"retry_after"})),
    FaultKind.LATENCY: (frozenset({"ms"}), frozenset({"jitter_ms"})),
    FaultKind.HANG: (frozenset(), frozenset({"seconds"})),
    FaultKind.STREAM_CUT: (frozenset(), frozenset({"after_chunks"})),
    FaultKind.CHUNK_DELAY: (frozenset({"ms"}), frozenset()),
    FaultKind.MALFORMED: (frozenset(), frozenset()),
    FaultKind.RESET_PEER: (frozenset(), frozenset()),
    FaultKind.BLACKHOLE: (frozenset(), frozenset({"seconds"})),
    FaultKind.BANDWIDTH: (frozenset({"bytes_per_second"}), frozenset()),
    FaultKind.SLICER: (frozenset({"size"}), frozenset({"delay_ms"})),
    FaultKind.LIMIT_DATA: (frozenset({"bytes"}), frozenset()),
    FaultKind.SLOW_CLOSE: (frozenset({"ms"}), frozenset()),
}
_COMMON = frozenset({"kind", "probability", "paths", "count"})
_INTS = frozenset({"status", "after_chunks", "bytes_per_second", "size", "bytes", "count"})
_NUMBERS = frozenset({"retry_after", "ms", "jitter_ms", "seconds", "delay_ms", "probability"})


@dataclass(frozen=True, slots=True)
class Fault:
    """One way to misbehave, with the share of matching requests it applies to.

    `paths` empty means every API path; an entry with a `*` is a glob, so
    `/v1beta/models/*` covers every Gemini model and method. `count` None means
    until cleared.
    Parameters a kind does not use keep their defaults and are ignored.
    """

    kind: FaultKind
    probability: float = 1.0
    paths: tuple[str, ...] = ()
    count: int | None = None
    status: int = 500
    retry_after: float = 1.0
    ms: float = 0.0
    jitter_ms: float = 0.0
    seconds: float | None = None
    after_chunks: int = 1
    bytes_per_second: int = 1
    size: int = 1
    delay_ms: float = 0.0
    limit_bytes: int = 0

    def __post_init__(self) -> None:
        try:
            kind = FaultKind(self.kind)
        except ValueError:
            raise _bad("kind", self.kind, f"one of {', '.join(k.value for k in FaultKind)}") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "paths", tuple(self.paths))
        if not 0.0 <= self.probability <= 1.0:
            raise _bad("probability", self.probability, "a number between 0 and 1")
        for path in self.paths:
            if not isinstance(path, str) or not path.startswith("/"):
                raise _bad("paths", self.paths, "a list of paths starting with '/'")
        if self.count is not None and self.count < 1:
            raise _bad("count", self.count, "an integer >= 1")
        if not 100 <= self.status <= 599:
            raise _bad("status", self.status, "an HTTP status between 100 and 599")
        for name in ("retry_after", "ms", "jitter_ms", "delay_ms"):
            if getattr(self, name) < 0:
                raise _bad(name, getattr(self, name), "a number >= 0")
        if self.seconds is not None and self.seconds <= 0:
            raise _bad("seconds", self.seconds, "a number > 0")
        if self.after_chunks < 0:
            raise _bad("after_chunks", self.after_chunks, "an integer >= 0")
        for name in ("bytes_per_second", "size"):
            if getattr(self, name) < 1:
                raise _bad(name, getattr(self, name), "an integer >= 1")
        if self.limit_bytes < 0:
            raise _bad("bytes", self.limit_bytes, "an integer >= 0")

    @classmethod
    def from_cli(cls, text: str) -> Fault:
        """Parse a JSON object such as `{"kind": "status", "status": 503}` given on a command line."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"fault: not valid JSON ({exc}): {text!r}") from None
        return parse_fault(data)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: `kind`, the common fields that differ from their defaults, and this kind's
        parameters, so that `parse_fault(f.to_dict()) == f`."""
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.probability != 1.0:
            out["probability"] = self.probability
        if self.paths:
            out["paths"] = list(self.paths)
        if self.count is not None:
            out["count"] = self.count
        required, optional = _PARAMS[self.kind]
        for wire in sorted(required | optional):
            value = getattr(self, _ATTR.get(wire, wire))
            if value is not None:
                out[wire] = value
        return out


def parse_fault(data: object) -> Fault:
    """Build a `Fault` from an untrusted mapping, or raise ValueError naming the bad field."""
    if not isinstance(data, Mapping):
        raise ValueError(f"fault: expected a JSON object, got {type(data).__name__}")
    kind_value = data.get("kind")
    if kind_value is None:
        raise ValueError(f"fault: field 'kind' is required (one of {', '.join(k.value for k in FaultKind)})")
    try:
        kind = FaultKind(kind_value)
    except ValueError:
        raise _bad("kind", kind_value, f"one of {', '.join(k.value for k in FaultKind)}") from None
    required, optional = _PARAMS[kind]
    for key in data:
        if key not in _COMMON and key not in required and key not in optional:
            allowed = ", ".join(sorted(required | optional)) or "none"
            raise ValueError(f"fault {kind.value!r}: unknown field {key!r} (parameters: {allowed})")
    missing = sorted(required - data.keys())
    if missing:
        raise ValueError(f"fault {kind.value!r}: field {missing[0]!r} is required")
    kwargs: dict[str, Any] = {"kind": kind}
    for key, value in data.items():
        if key != "kind":
            name = str(key)
            kwargs[_ATTR.get(name, name)] = _convert(kind, name, value)
    try:
        return Fault(**kwargs)
    except ValueError as exc:
        raise ValueError(f"fault {kind.value!r}: {exc}") from None


def _convert(kind: FaultKind, key: str, value: object) -> object:
    """Check a field's JSON type; booleans are refused where numbers are expected."""
    if key == "paths":
        if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
            raise ValueError(f"fault {kind.value!r}: {_bad('paths', value, 'a list of strings')}")
        return tuple(value)
    if key == "count" and value is None:
        return None
    if key == "seconds" and value is None:
        return None
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"fault {kind.value!r}: {_bad(key, value, 'an integer')}")
        return value
    if key in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"fault {kind.value!r}: {_bad(key, value, 'a finite number')}")
        return float(value)
    raise AssertionError(f"unhandled fault field {key!r}")  # pragma: no cover - tables cover all keys


def _bad(field: str, value: object, expected: str) -> ValueError:
    return ValueError(f"field {_WIRE.get(field, field)!r} must be {expected}, got {value!r}")
