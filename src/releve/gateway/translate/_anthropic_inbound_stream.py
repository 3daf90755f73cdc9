"""OpenAI chunks to Anthropic's stream events, for Relève's inbound Anthropic API."""

from __future__ import annotations

from releve.errors import Untranslatable

from ._anthropic_inbound import FINISH_TO_STOP, anthropic_usage, message_id
from ._common import JSON, StreamError

__all__ = ["OpenAIStreamToAnthropic"]


class OpenAIStreamToAnthropic:
    """OpenAI chunks in, Anthropic's stream events out: the exact sequence its SDKs expect.

        message_start
        (content_block_start, content_block_delta*, content_block_stop)*
        message_delta   stop_reason and usage
        message_stop

    `message_start` reports 0 input tokens, because OpenAI reports usage only in
    its last chunk; `message_delta` then carries the real input and output
    counts (its usage fields are cumulative). `finish()` sends the closing pair
    once the upstream stream ends, and raises StreamError if it ended early.
    """

    __slots__ = (
        "_block",
        "_closed",
        "_done_tools",
        "_index",
        "_model",
        "_refused",
        "_started",
        "_stop",
        "_tool",
        "_usage",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._index = -1  # Anthropic content-block index of the open (or last) block
        self._block: str | None = None  # "text", "tool_use" or None when no block is open
        self._tool = -1  # OpenAI tool-call index of the open tool_use block
        self._done_tools: set[int] = set()
        self._stop: str | None = None
        self._refused = False
        self._usage: JSON = {}
        self._closed = False

    @staticmethod
    def error_event(message: str, type: str = "api_error") -> tuple[str, JSON]:
        """Anthropic's in-stream `error` event, for an upstream failure after the 200 went out."""
        return "error", {"type": "error", "error": {"type": type, "message": message}}

    def feed(self, chunk: JSON) -> list[tuple[str, JSON]]:
        error = chunk.get("error")
        if isinstance(error, dict):
            raise StreamError(
                str(error.get("message", "upstream stream error")), error_type=str(error.get("type") or "api_error")
            )
        events: list[tuple[str, JSON]] = []
        if not self._started:
            self._started = True
            events.append(
                (
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": message_id(chunk.get("id")),
                            "type": "message",
                            "role": "assistant",
                            "model": self._model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": {"input_tokens": 0, "output_tokens": 0},
                        },
                    },
                )
            )
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                raise Untranslatable("a second choice in the stream cannot be carried to Anthropic.")
            delta = choice.get("delta") or {}
            for key in ("audio", "function_call"):
                if delta.get(key) is not None:
                    raise Untranslatable(f"a delta.{key} cannot be carried to Anthropic.")
            for text in (delta.get("content"), delta.get("refusal")):
                if text:
                    events += self._text(text)
            self._refused = self._refused or bool(delta.get("refusal"))
            for call in delta.get("tool_calls") or []:
                events += self._tool_delta(call)
            reason = choice.get("finish_reason")
            if reason:
                events += self._close_block()
                self._stop = FINISH_TO_STOP.get(reason, "end_turn")
        return events

    def finish(self) -> list[tuple[str, JSON]]:
        if self._closed:
            return []
        if self._stop is None:
            raise StreamError("the upstream stream ended before its finish_reason", error_type="api_error")
        self._closed = True
        stop = "refusal" if self._refused and self._stop == "end_turn" else self._stop
        usage = anthropic_usage(self._usage)
        return [
            *self._close_block(),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]

    def _open(self, block: JSON) -> list[tuple[str, JSON]]:
        events = self._close_block()
        self._index += 1
        self._block = block["type"]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block})
        )
        return events

    def _close_block(self) -> list[tuple[str, JSON]]:
        if self._block is None:
            return []
        if self._block == "tool_use":
            self._done_tools.add(self._tool)
        self._block = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _delta(self, delta: JSON) -> tuple[str, JSON]:
        return "content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}

    def _text(self, text: str) -> list[tuple[str, JSON]]:
        events = [] if self._block == "text" else self._open({"type": "text", "text": ""})
        events.append(self._delta({"type": "text_delta", "text": text}))
        return events

    def _tool_delta(self, call: JSON) -> list[tuple[str, JSON]]:
        position = call.get("index", 0)
        function = call.get("function") or {}
        events: list[tuple[str, JSON]] = []
        if self._block != "tool_use" or position != self._tool:
            if position in self._done_tools or position == self._tool:
                raise Untranslatable(
                    f"tool call {position} resumed after another block began; Anthropic blocks cannot be reopened."
                )
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise Untranslatable(f"tool call {position} starts without a function name.")
            events += self._close_block()  # before `_tool` moves on, so the closed call is recorded as done
            self._tool = position
            events += self._open(
                {"type": "tool_use", "id": call.get("id") or f"toolu_{position}", "name": name, "input": {}}
            )
        arguments = function.get("arguments")
        if arguments:
            events.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return events
