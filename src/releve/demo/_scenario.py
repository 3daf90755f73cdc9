"""The demo's script: what breaks when, as data, so the view and the summary can show it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    at: float                    # seconds from the start of traffic
    title: str                   # what a watcher is told
    faults: tuple[dict[str, Any], ...]  # the primary's faults from then on (empty: healthy)


def steps(duration: float) -> tuple[Step, ...]:
    """Healthy, then errors, then a hang, then recovery, scaled to the duration."""
    return (
        Step(0.0, "all providers healthy", ()),
        Step(duration * 0.22, "primary answers 503 to everything", ({"kind": "status", "status": 503},)),
        Step(duration * 0.44, "primary hangs: connections open, no answer", ({"kind": "hang"},)),
        Step(duration * 0.66, "primary is back", ()),
    )


def demo_config(primary: str, secondary: str, tertiary: str, duration: float = 36.0) -> dict[str, Any]:
    """Simulators' root URLs in; the fallback speaks Anthropic's API, so failover crosses families.

    The monitor's timings are shortened so that detection, recovery and resolution all fit in the run.
    """
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "auth": "none",
        "storage": {"url": "sqlite://"},
        "breaker": {"consecutive_failures": 3, "open_for": "2s"},
        "monitor": {"evaluate_every": "250ms", "window": "10s", "down_after": 3, "up_after": 4, "flush_every": "1s",
                    "resolve_after": f"{duration * 0.1:.1f}s",
                    "probes": {"every": "5s", "request": "models", "timeout": "2s"}},
        "processes": {"customer-support": {
            "name": {"fr": "Support client", "en": "Customer support"},
            "routes": ["support-assistant"], "users": 40, "hourly_cost": 35, "revenue_per_hour": 1200,
            "rto": "15m"}},
        "providers": {
            "openai": {"kind": "openai-compatible", "base_url": f"{primary}/v1", "region": "us"},
            "claude": {"kind": "anthropic", "base_url": secondary, "api_key": "demo", "region": "eu"},
            "local": {"kind": "openai-compatible", "base_url": f"{tertiary}/v1", "region": "on-premises"},
        },
        "routes": {
            "support-assistant": {
                "strategy": "priority",
                "targets": [{"provider": "openai", "model": "gpt-4o-mini"},
                            {"provider": "claude", "model": "claude-haiku"},
                            {"provider": "local", "model": "llama3.2"}],
                "timeout": "10s", "attempt_timeout": "1s", "retries": 1,
            },
        },
    }
