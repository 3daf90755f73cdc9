"""The configuration the gateway integration tests start from."""

from __future__ import annotations

from typing import Any

CLIENT_KEY = "test-client-key"


def gateway_config(primary_url: str, fallback_url: str, **route: Any) -> dict[str, Any]:
    """Two providers; route `assistant` fails over primary → fallback, route `solo` has no fallback."""
    return {
        "server": {"listen": "127.0.0.1:0", "max_body_size": "64kB", "access_log": False},
        "clients": {"tests": {"key": CLIENT_KEY}},
        # Gateway tests count upstream requests exactly: no probes; state in memory, gone with the test.
        "storage": {"url": "sqlite://"},
        "monitor": {"probes": {"request": "none"}},
        "breaker": {"consecutive_failures": 3, "open_for": "60s"},
        "providers": {
            "primary": {"kind": "openai-compatible", "base_url": primary_url},
            "fallback": {"kind": "openai-compatible", "base_url": fallback_url},
        },
        "routes": {
            "assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                      {"provider": "fallback", "model": "f-model"}],
                          "attempt_timeout": "500ms", "timeout": "5s", "retries": 0, **route},
            "solo": {"targets": [{"provider": "primary", "model": "p-model"}], "attempt_timeout": "300ms",
                     "retries": 0},
        },
    }
