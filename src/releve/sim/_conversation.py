"""The one answer every provider family gives, decided before any family renders it.

Each family's request parser boils its body down to a `Conversation`; `reply`
turns that into a `Reply`; each family only spells the reply its own way. So a
test can fail over from an OpenAI simulator to a Gemini one and still predict
the text word for word, and a mid-stream recovery can be checked end to end:

- the last turn is a tool result: `"<name> got: <result>"`;
- the last turn is the assistant's (a prefill, or text a broken stream already
  delivered): only the words of `"<name> heard: <last user text>"` after the
  first k, k being the prefix's word count, so that prefix + reply reads as one
  answer even when another simulator wrote the prefix;
- tools are declared and the last turn is the user's: one call to the chosen
  tool with `{"query": <last user text>}`;
- otherwise: `"<name> heard: <last user text>"`.

A "token" is a whitespace-separated word. Pieces keep the whitespace before
their word, so streamed pieces joined give exactly the non-streamed text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson

__all__ = ["Conversation", "Finish", "Reply", "ToolCall", "pieces", "reply", "result_text", "split_arguments"]

# One word with the whitespace before it; trailing whitespace sticks to the last word.
_PIECE: Final = re.compile(r"\s*\S+\s*$|\s*\S+")


class Finish(StrEnum):
    """Why an answer ended, before each family names it (`length` is OpenAI's `max_tokens`)."""

    STOP = "stop"
    LENGTH = "length"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_CALL = "tool_call"


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a request says once its family's spelling is gone.

    At most one of `prefix` (the text of a trailing assistant turn) and
    `tool_result` (the text of a trailing tool result) is set; neither means
    the user spoke last. `tool` is the tool a user turn would make the model
    call: None when no tool is declared or the request forbids calling one.
    """

    last_user_text: str = ""
    prompt_tokens: int = 0
    max_tokens: int | None = None
    prefix: str | None = None
    tool_result: str | None = None
    tool: str | None = None
    stop_sequences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """Compact JSON, as OpenAI sends `function.arguments` and Anthropic streams `partial_json`."""
        return orjson.dumps(self.arguments).decode()


@dataclass(frozen=True, slots=True)
class Reply:
    """Text pieces (none for a tool call), why the answer ended, and the call if there is one."""

    pieces: tuple[str, ...]
    finish: Finish
    stop_sequence: str | None = None
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        if self.tool_call is not None:
            return len(self.tool_call.arguments_json.split())
        return len(self.pieces)


def pieces(text: str) -> list[str]:
    """`text` as word pieces, each with the whitespace before it."""
    return _PIECE.findall(text)


def reply(name: str, conversation: Conversation) -> Reply:
    """The simulator `name`'s answer to `conversation`; pure, so tests can predict it."""
    if conversation.tool_result is not None:
        return _text_reply(pieces(f"{name} got: {conversation.tool_result}"), conversation)
    words = pieces(f"{name} heard: {conversation.last_user_text}")
    if conversation.prefix is not None:
        return _text_reply(words[len(conversation.prefix.split()) :], conversation)
    if conversation.tool is not None:
        return Reply(
            (), Finish.TOOL_CALL, tool_call=ToolCall(conversation.tool, {"query": conversation.last_user_text})
        )
    return _text_reply(words, conversation)


def _text_reply(words: list[str], conversation: Conversation) -> Reply:
    """Stop at the earliest stop sequence, then at `max_tokens` words, as a model would."""
    finish = Finish.STOP
    stop_sequence = None
    if conversation.stop_sequences:
        text = "".join(words)
        cut = min(((text.find(s), s) for s in conversation.stop_sequences if s and s in text), default=None)
        if cut is not None:
            words = pieces(text[: cut[0]])
            finish, stop_sequence = Finish.STOP_SEQUENCE, cut[1]
    limit = conversation.max_tokens
    if limit is not None and len(words) > limit:
        return Reply(tuple(words[:limit]), Finish.LENGTH)
    return Reply(tuple(words), finish, stop_sequence)


def result_text(value: Any) -> str:
    """A tool result as answer text: strings as sent, JSON values (and JSON in strings) compact.

    Compacting JSON strings too means `{"temp": 20}` sent by one family's client
    and `{"temp":20}` sent as an object by another give the same answer.
    """
    if isinstance(value, str):
        if not value.lstrip().startswith(("{", "[")):
            return value
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return orjson.dumps(parsed).decode()
    return orjson.dumps(value).decode()


def split_arguments(arguments: str) -> list[str]:
    """Tool-call arguments in at least two pieces, because real providers stream them in parts
    and a client that only handles one piece must fail here, not in production."""
    parts = pieces(arguments)
    if len(parts) >= 2:
        return parts
    middle = max(1, len(arguments) // 2)
    return [arguments[:middle], arguments[middle:]]
