"""Pseudonymisation of one request: personal data out as `<KIND_n>` placeholders, back in on the answer.

A `Pseudonymizer` lives for one request. The same value gets the same placeholder everywhere in
that request (numbered per kind: `<EMAIL_1>`, `<EMAIL_2>`, `<PHONE_1>`), so the model can still tell
two customers apart and refer to them; the mapping never leaves the process.

Placeholder-shaped text already in the request (a user pasting "<EMAIL_1>") is left alone and its
number is never handed out, so re-identification gives back exactly what the client sent.

Tool-call arguments are JSON: values are replaced inside its string literals (and integers that are
entirely one identifier become a quoted placeholder), so the arguments stay valid JSON; on the way
back, values are JSON-escaped into them. Streams are re-identified chunk by chunk by
`StreamReidentifier`, which holds back a possible placeholder cut between two chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ._pii import PiiDetector

__all__ = ["Pseudonymizer", "StreamReidentifier"]

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_([1-9][0-9]*)>")
# JSON tokens that may carry personal data: string literals, and numbers (outside strings, since a
# scan from the start of valid JSON consumes each string literal whole).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+\-]?\d+)?')


class Pseudonymizer:
    """One request's placeholders: `pseudonymize_body` on the way out, `reidentify_*` on the way back."""

    __slots__ = ("_counts", "_detector", "_placeholders", "_reserved", "_values")

    def __init__(self, detector: PiiDetector) -> None:
        self._detector = detector
        self._placeholders: dict[str, str] = {}     # value → placeholder
        self._values: dict[str, str] = {}           # placeholder → value
        self._counts: dict[str, int] = {}
        self._reserved: set[str] = set()

    @property
    def mapping(self) -> Mapping[str, str]:
        """Placeholder → original value, for everything replaced so far (read-only)."""
        return MappingProxyType(self._values)

    # -- out -----------------------------------------------------------------------------------

    def pseudonymize_text(self, text: str) -> str:
        """`text` with each finding replaced by its placeholder."""
        self._reserve(text)
        return self._replace(text)

    def pseudonymize_body(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """A new OpenAI chat request body, and the mapping (placeholder → value); `body` is not modified.

        Covers every message's content (string or text parts; system and developer prompts
        included), assistant tool-call and function-call arguments, and tool results. Other fields
        (tool definitions, `name`, images) are passed as they are; unchanged parts are shared.
        """
        messages = body.get("messages")
        if not isinstance(messages, list):
            return dict(body), dict(self._values)
        for text in _message_texts(messages):
            self._reserve(text)
        new = dict(body)
        new["messages"] = [self._message(message) if isinstance(message, dict) else message
                           for message in messages]
        return new, dict(self._values)

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        new = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            json_like = message.get("role") == "tool" and content.lstrip()[:1] in ("{", "[")
            new["content"] = self._json(content) if json_like else self._replace(content)
        elif isinstance(content, list):
            new["content"] = [self._part(part) for part in content]
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list):
            new["tool_calls"] = [_with_arguments(call, self._json) for call in tool_calls]
        function_call = message.get("function_call")
        if isinstance(function_call, dict):
            new["function_call"] = _with_function_arguments(function_call, self._json)
        return new

    def _part(self, part: Any) -> Any:
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            return {**part, "text": self._replace(part["text"])}
        return part

    def _json(self, arguments: str) -> str:
        """Replace inside JSON string literals; text that is not JSON is treated as plain text."""
        try:
            json.loads(arguments)
        except ValueError:
            return self._replace(arguments)
        return _JSON_TOKEN.sub(self._json_token, arguments)

    def _json_token(self, match: re.Match[str]) -> str:
        token = match[0]
        if token[0] != '"':
            findings = self._detector.find(token)
            if len(findings) == 1 and findings[0].value == token:
                return '"' + self._placeholder(findings[0].kind, token) + '"'
            return token
        value = token[1:-1] if "\\" not in token else json.loads(token)
        replaced = self._replace(value)
        return token if replaced == value else json.dumps(replaced, ensure_ascii=False)

    def _replace(self, text: str) -> str:
        findings = self._detector.find(text)
        if not findings:
            return text
        pieces: list[str] = []
        last = 0
        for finding in findings:
            pieces += (text[last:finding.start], self._placeholder(finding.kind, finding.value))
            last = finding.end
        pieces.append(text[last:])
        return "".join(pieces)

    def _placeholder(self, kind: str, value: str) -> str:
        known = self._placeholders.get(value)
        if known is not None:
            return known
        number = self._counts.get(kind, 0) + 1
        while (placeholder := f"<{kind}_{number}>") in self._reserved:
            number += 1
        self._counts[kind] = number
        self._placeholders[value] = placeholder
        self._values[placeholder] = value
        return placeholder

    def _reserve(self, text: str) -> None:
        if "<" in text:
            self._reserved.update(match[0] for match in _PLACEHOLDER.finditer(text))

    # -- back ----------------------------------------------------------------------------------

    def reidentify_text(self, text: str) -> str:
        """`text` with this request's placeholders replaced by the original values."""
        return _substitute(text, self._values)

    def reidentify_body(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        """A new OpenAI chat completion with values put back in message content and tool-call arguments."""
        choices = answer.get("choices")
        if not self._values or not isinstance(choices, list):
            return dict(answer)
        return {**answer, "choices": [self._choice(choice) for choice in choices]}

    def _choice(self, choice: Any) -> Any:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            return choice
        new = dict(message)
        for field in ("content", "refusal"):
            if isinstance(message.get(field), str):
                new[field] = _substitute(message[field], self._values)
        if isinstance(message.get("tool_calls"), list):
            new["tool_calls"] = [_with_arguments(call, self._reidentify_json) for call in message["tool_calls"]]
        if isinstance(message.get("function_call"), dict):
            new["function_call"] = _with_function_arguments(message["function_call"], self._reidentify_json)
        return {**choice, "message": new}

    def _reidentify_json(self, arguments: str) -> str:
        return _substitute(arguments, self._values, escape=True)

    def stream(self) -> StreamReidentifier:
        """A re-identifier for this request's streamed answer."""
        return StreamReidentifier(self._values)


def _message_texts(messages: Iterable[Any]) -> Iterable[str]:
    """Every string `Pseudonymizer._message` may rewrite (for reserving placeholder-shaped text)."""
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (part["text"] for part in content
                        if isinstance(part, dict) and isinstance(part.get("text"), str))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                yield function["arguments"]
        function_call = message.get("function_call")
        if isinstance(function_call, dict) and isinstance(function_call.get("arguments"), str):
            yield function_call["arguments"]


def _with_arguments(call: Any, rewrite: Callable[[str], str]) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return {**call, "function": _with_function_arguments(call["function"], rewrite)}


def _with_function_arguments(function: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    arguments = function.get("arguments")
    return {**function, "arguments": rewrite(arguments)} if isinstance(arguments, str) else dict(function)


def _substitute(text: str, values: Mapping[str, str], *, escape: bool = False) -> str:
    if not values or "<" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        found = values.get(match[0])
        if found is None:
            return match[0]
        return json.dumps(found, ensure_ascii=False)[1:-1] if escape else found

    return _PLACEHOLDER.sub(value, text)


# A stream's text fields are keyed by (choice index, slot): the content, the refusal, or a tool call.
_CONTENT = -1
_REFUSAL = -2


class StreamReidentifier:
    """Re-identifies a streamed answer, one OpenAI `chat.completion.chunk` dict at a time.

    A chunk may end in the middle of a placeholder ("<EMA" … "IL_1> and"): the possible beginning
    is held back, per choice and per field, until the next piece of that field shows whether it is
    one; it is released when the choice finishes, or by `finish()`. Nothing is lost or leaked: held
    text is a strict prefix of a known placeholder, and comes out as is if it never completes.
    """

    __slots__ = ("_held", "_prefixes", "_template", "_values")

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._values = dict(mapping)
        self._prefixes = {placeholder[:n] for placeholder in self._values for n in range(1, len(placeholder))}
        self._held: dict[tuple[int, int], str] = {}
        self._template: dict[str, Any] = {}

    def feed(self, chunk: Mapping[str, Any]) -> dict[str, Any]:
        """The chunk with placeholders replaced (a new dict); held-back text comes out in a later chunk."""
        self._template = {key: value for key, value in chunk.items() if key != "choices"}
        choices = chunk.get("choices")
        if not self._values or not isinstance(choices, list):
            return dict(chunk)
        return {**chunk, "choices": [self._choice(position, choice) for position, choice in enumerate(choices)]}

    def finish(self) -> list[dict[str, Any]]:
        """A last chunk with whatever is still held back (an unfinished "<EMA"), or none."""
        if not self._held:
            return []
        deltas: dict[int, dict[str, Any]] = {}
        for (index, slot), text in sorted(self._held.items()):
            _put(deltas.setdefault(index, {}), slot, text)
        self._held.clear()
        choices = [{"index": index, "delta": delta, "finish_reason": None} for index, delta in sorted(deltas.items())]
        return [{**self._template, "choices": choices}]

    def _choice(self, position: int, choice: Any) -> Any:
        if not isinstance(choice, dict):
            return choice
        index = choice.get("index", position)
        index = index if isinstance(index, int) else position
        delta = choice.get("delta")
        finishing = choice.get("finish_reason") is not None
        new = dict(delta) if isinstance(delta, dict) else {}
        for field, slot in (("content", _CONTENT), ("refusal", _REFUSAL)):
            if isinstance(new.get(field), str):
                new[field] = self._push((index, slot), new[field], finishing, escape=False)
        if isinstance(new.get("tool_calls"), list):
            new["tool_calls"] = [self._tool_call(index, call, finishing) for call in new["tool_calls"]]
        if finishing:
            for key in [key for key in self._held if key[0] == index]:
                _put(new, key[1], self._held.pop(key))
        if not isinstance(delta, dict) and not new:
            return choice
        return {**choice, "delta": new}

    def _tool_call(self, index: int, call: Any, finishing: bool) -> Any:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
            return call
        slot = call.get("index", 0)
        arguments = self._push((index, slot if isinstance(slot, int) else 0), function["arguments"], finishing,
                               escape=True)
        return {**call, "function": {**function, "arguments": arguments}}

    def _push(self, key: tuple[int, int], text: str, flush: bool, *, escape: bool) -> str:
        buffer = self._held.pop(key, "") + text
        if not flush:
            cut = buffer.rfind("<")
            if cut >= 0 and buffer[cut:] in self._prefixes:
                self._held[key] = buffer[cut:]
                buffer = buffer[:cut]
        return _substitute(buffer, self._values, escape=escape)


def _put(delta: dict[str, Any], slot: int, text: str) -> None:
    """Add released text to a delta: appended to its field, or as a tool-call fragment of its own."""
    if slot in (_CONTENT, _REFUSAL):
        field = "content" if slot == _CONTENT else "refusal"
        delta[field] = (delta.get(field) or "") + text
        return
    calls = delta.get("tool_calls")
    if not isinstance(calls, list):
        calls = delta["tool_calls"] = []
    for position, call in enumerate(calls):
        if isinstance(call, dict) and call.get("index", 0) == slot:
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            arguments = (function.get("arguments") or "") + text
            calls[position] = {**call, "function": {**function, "arguments": arguments}}
            return
    calls.append({"index": slot, "function": {"arguments": text}})
