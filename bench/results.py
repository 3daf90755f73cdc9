"""What one measured run produced, as plain data (written to results.json as is).

A result carries its own status so that a run with errors, a run whose
requests did not reach the upstream, or a target that could not start is
reported as such and never folded into a ratio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["TARGET_LABELS", "Result", "Status"]

TARGET_LABELS = {
    "direct": "direct upstream",
    "refproxy": "reference proxy",
    "releve": "Relève",
    "litellm": "LiteLLM",
}

# ok: clean run. errors: some requests failed (non-2xx or socket errors). suspect: the numbers
# look wrong for a reason the bench can see (e.g. answers that never reached the upstream).
# failed: the scenario could not run. unavailable: the target is not there (not installed, did not start).
Status = Literal["ok", "errors", "suspect", "failed", "unavailable"]


@dataclass
class Result:
    target: str
    scenario: str
    status: Status
    kind: str = "wrk"
    stream: bool = False
    connections: int = 0
    requests: int = 0
    duration_s: float = 0.0
    rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    rss_mib: float | None = None
    server_cpu: float | None = None  # busy share of the server core during the measured run
    client_cpu: float | None = None  # busy share of the client core (wrk + upstream) during it
    foreign_cpu: float | None = None  # CPU taken on the bench's cores by processes it did not start (of one core)
    upstream_hits: int | None = None
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    total_p50_ms: float | None = None
    total_p99_ms: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when the figures may be compared with others (no errors, nothing suspect)."""
        return self.status == "ok"

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
