"""The response cache, for stale-if-error (`cache.mode: on_error`) or plain caching (`always`).

The key is the normalised request: the route, the operation and every field
that can change the answer, serialised with sorted keys and hashed; `user`,
`stream` and `stream_options` are left out, so an answer given plainly can
be replayed to a streaming client. Entries live in memory, per route,
bounded (least recently used evicted first) and dropped after `ttl`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from .providers import Operation

__all__ = ["ResponseCache", "cache_key", "completion_to_sse"]

# Fields that do not change what the model answers.
_IGNORED = frozenset({"user", "stream", "stream_options", "metadata", "store", "service_tier"})


def cache_key(route: str, operation: Operation, body: dict[str, Any]) -> bytes:
    material = {key: value for key, value in body.items() if key not in _IGNORED}
    material["model"] = route
    data = orjson.dumps(material, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(operation.value.encode() + b"\0" + data, digest_size=16).digest()


class ResponseCache:
    __slots__ = ("_entries", "_now", "evictions", "hits", "max_entries", "misses", "stores", "ttl")

    def __init__(self, max_entries: int, ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self.max_entries = max_entries
        self.ttl = ttl
        self._now = now
        self.hits = self.misses = self.stores = self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._now():
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: bytes, body: bytes) -> None:
        self._entries[key] = (self._now() + self.ttl, body)
        self._entries.move_to_end(key)
        self.stores += 1
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1


def completion_to_sse(body: bytes) -> bytes:
    """A whole chat completion told as a stream: one chunk with the message, one with the finish, [DONE]."""
    answer = orjson.loads(body)
    base = {"id": answer.get("id", "chatcmpl-releve"), "object": "chat.completion.chunk",
            "created": answer.get("created", int(time.time())), "model": answer.get("model", "")}
    events = []
    for choice in answer.get("choices", []):
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant"), "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        index = choice.get("index", 0)
        events.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        events.append({**base, "choices": [{"index": index, "delta": {},
                                            "finish_reason": choice.get("finish_reason", "stop")}]})
    if answer.get("usage"):
        events.append({**base, "choices": [], "usage": answer["usage"]})
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events) + b"data: [DONE]\n\n"
