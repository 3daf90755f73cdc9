"""Anthropic's stream events to OpenAI chunks, for Anthropic upstreams."""

from __future__ import annotations

from typing import Any

from releve.errors import Untranslatable

from ._anthropic_upstream import STOP_TO_FINISH, anthropic_usage_to_openai, openai_id
from ._common import JSON, StreamError, chunk, dumps, usage_chunk

__all__ = ["AnthropicStreamToOpenAI"]


class AnthropicStreamToOpenAI:
    """Anthropic stream events in, OpenAI `chat.completion.chunk` dicts out, one event at a time.

    Tool calls are numbered in order of appearance (OpenAI's `index`), not by
    Anthropic's content-block index. Unknown event types are ignored, as
    Anthropic's versioning policy asks of clients.
    """

    __slots__ = ("_created", "_id", "_include_usage", "_model", "_tools", "_usage", "_with_arguments")

    def __init__(self, *, include_usage: bool = False, created: int = 0) -> None:
        self._include_usage = include_usage
        self._created = created
        self._id = "chatcmpl-"
        self._model = ""
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool-call index
        self._with_arguments: set[int] = set()  # tool_use blocks that sent some input JSON
        self._usage: dict[str, Any] = {}

    def _chunk(self, delta: JSON, finish_reason: str | None = None) -> JSON:
        return chunk(self._id, self._created, self._model, delta, finish_reason, usage_field=self._include_usage)

    def feed(self, event: str, data: JSON) -> list[JSON]:
        kind = data.get("type") or event
        if kind == "message_start":
            message = data.get("message") or {}
            self._id = openai_id(message.get("id"))
            self._model = message.get("model", "")
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(data.get("index", 0), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(data.get("index", 0), data.get("delta") or {})
        if kind == "message_delta":
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason") or ""
            return [self._chunk({}, STOP_TO_FINISH.get(reason, "stop"))]
        if kind == "message_stop":
            if self._include_usage:
                return [usage_chunk(self._id, self._created, self._model, anthropic_usage_to_openai(self._usage))]
            return []
        if kind == "error":
            error = data.get("error") or {}
            raise StreamError(
                str(error.get("message", "upstream stream error")), error_type=str(error.get("type", "api_error"))
            )
        if kind == "content_block_stop":
            index = data.get("index", 0)
            if index in self._tools and index not in self._with_arguments:
                # A call without parameters streams no fragment; OpenAI clients expect "{}" to parse.
                call = {"index": self._tools[index], "function": {"arguments": "{}"}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        return []  # ping, and event types added after this was written

    def _block_start(self, index: int, block: JSON) -> list[JSON]:
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if text else []
        if kind == "tool_use":
            position = self._tools[index] = len(self._tools)
            # Anthropic starts each tool_use with an empty input and streams it as JSON fragments.
            arguments = dumps(block["input"]) if block.get("input") else ""
            if arguments:
                self._with_arguments.add(index)
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": arguments},
            }
            return [self._chunk({"tool_calls": [call]})]
        raise Untranslatable(f"content block {index} is a {kind!r} block, which OpenAI chunks cannot carry.")

    def _block_delta(self, index: int, delta: JSON) -> list[JSON]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [self._chunk({"content": text})] if text else []
        if kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if not fragment:
                return []
            if index not in self._tools:
                raise Untranslatable(f"input_json_delta for content block {index}, which is not a tool_use block.")
            self._with_arguments.add(index)
            return [self._chunk({"tool_calls": [{"index": self._tools[index], "function": {"arguments": fragment}}]})]
        raise Untranslatable(f"a {kind!r} delta (block {index}) cannot be carried in OpenAI chunks.")
