"""Human units in releve.yaml: durations (`750ms`, `10s`, `2m`) and sizes (`4MB`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_duration(value: Any) -> float:
    """Seconds from `750ms`, `10s`, `2m`, `1h`, `7d` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 750ms, 10s, 2m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _DURATION_UNITS[match[2] or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration; write it like 750ms, 10s, 2m, 1h or 7d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: Any) -> int:
    """Bytes from `512kB`, `4MiB` or a bare number of bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 4MB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])
    else:
        raise ValueError(f"{value!r} is not a size; write it like 512kB or 4MB")
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{seconds / factor:g}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
