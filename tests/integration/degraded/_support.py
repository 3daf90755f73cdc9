"""What the degraded-mode tests send: the client key and a chat request on route `assistant`."""

from __future__ import annotations

from typing import Any

KEY = "app-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def chat(text: str) -> dict[str, Any]:
    return {"model": "assistant", "messages": [{"role": "user", "content": text}]}
