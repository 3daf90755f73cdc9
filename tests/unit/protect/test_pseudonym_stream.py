"""StreamReidentifier: placeholders cut anywhere between chunks come back whole, nothing leaks or is lost."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from releve.protect import StreamReidentifier

MAPPING = {"<EMAIL_1>": "jean.dupont@example.fr", "<CUSTOMER_12>": 'Durand "Frères"'}
TEXT = "Écris à <EMAIL_1> pour <CUSTOMER_12> <3 <EMAIL_2> fin"
EXPECTED = 'Écris à jean.dupont@example.fr pour Durand "Frères" <3 <EMAIL_2> fin'


def _chunk(content: str | None = None, *, index: int = 0, finish: str | None = None,
           arguments: str | None = None, call: int = 0) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if arguments is not None:
        delta["tool_calls"] = [{"index": call, "function": {"arguments": arguments}}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def _content(chunks: list[dict[str, Any]], index: int = 0) -> list[str]:
    return [choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
            if choice["index"] == index]


def _arguments(chunks: list[dict[str, Any]], call: int = 0) -> str:
    return "".join(tool["function"].get("arguments", "") for chunk in chunks for choice in chunk["choices"]
                   for tool in choice["delta"].get("tool_calls", []) if tool["index"] == call)


def _run(pieces: list[str], *, finish: bool = True) -> list[dict[str, Any]]:
    stream = StreamReidentifier(MAPPING)
    out = [stream.feed(_chunk(piece)) for piece in pieces]
    if finish:
        out.append(stream.feed(_chunk(finish="stop")))
    return out + stream.finish()


def _reidentified(text: str) -> str:
    for placeholder, value in MAPPING.items():
        text = text.replace(placeholder, value)
    return text


@pytest.mark.parametrize("cut", range(len(TEXT) + 1))
def test_two_chunks_cut_anywhere(cut: int) -> None:
    pieces = _content(_run([TEXT[:cut], TEXT[cut:]]))
    assert "".join(pieces) == EXPECTED
    # Only a possible beginning of a known placeholder is held back, nothing more.
    head = TEXT[:cut]
    tail = head[head.rfind("<"):] if "<" in head else ""
    if any(placeholder.startswith(tail) and placeholder != tail for placeholder in MAPPING):
        head = head[:len(head) - len(tail)]
    assert pieces[0] == _reidentified(head)


def test_three_chunks_cut_anywhere() -> None:
    for first in range(len(TEXT) + 1):
        for second in range(first, len(TEXT) + 1):
            pieces = _content(_run([TEXT[:first], TEXT[first:second], TEXT[second:]]))
            assert "".join(pieces) == EXPECTED, (first, second)


def test_one_character_per_chunk() -> None:
    pieces = _content(_run(list(TEXT)))
    assert "".join(pieces) == EXPECTED


def test_tool_call_arguments_cut_anywhere_stay_valid_json() -> None:
    arguments = '{"to": "<EMAIL_1>", "client": "<CUSTOMER_12>"}'
    for first in range(len(arguments) + 1):
        for second in range(first, len(arguments) + 1):
            stream = StreamReidentifier(MAPPING)
            out = [stream.feed(_chunk(arguments=part)) for part in
                   (arguments[:first], arguments[first:second], arguments[second:])]
            out += [stream.feed(_chunk(finish="tool_calls")), *stream.finish()]
            assert json.loads(_arguments(out)) == {"to": "jean.dupont@example.fr", "client": 'Durand "Frères"'}


def test_several_tool_calls_and_content_are_held_separately() -> None:
    stream = StreamReidentifier(MAPPING)
    out = [stream.feed(_chunk("Voici <EMA", arguments='{"a": "<CUST', call=0)),
           stream.feed(_chunk(arguments='{"b": "<EMAIL', call=1)),
           stream.feed(_chunk("IL_1>.", arguments='OMER_12>"}', call=0)),
           stream.feed(_chunk(arguments='_1>"}', call=1)),
           stream.feed(_chunk(finish="tool_calls"))]
    assert not stream.finish()
    assert "".join(_content(out)) == "Voici jean.dupont@example.fr."
    assert json.loads(_arguments(out, 0)) == {"a": 'Durand "Frères"'}
    assert json.loads(_arguments(out, 1)) == {"b": "jean.dupont@example.fr"}


def test_an_unfinished_lt_at_the_end_is_released_by_finish() -> None:
    pieces = _content(_run(["Réponse <"], finish=False))
    assert pieces == ["Réponse ", "<"]
    pieces = _content(_run(["fin <EMA"], finish=False))
    assert pieces == ["fin ", "<EMA"]


def test_the_finishing_chunk_releases_what_is_held() -> None:
    stream = StreamReidentifier(MAPPING)
    assert _content([stream.feed(_chunk("a <EMAIL_"))]) == ["a "]
    last = stream.feed(_chunk(finish="length"))
    assert _content([last]) == ["<EMAIL_"]
    assert last["choices"][0]["finish_reason"] == "length"
    assert stream.finish() == []


def test_held_tool_call_text_is_released_as_its_own_fragment() -> None:
    stream = StreamReidentifier(MAPPING)
    stream.feed(_chunk(arguments='{"x": "<', call=2))
    last = stream.finish()
    assert last[0]["id"] == "chatcmpl-1" and last[0]["model"] == "m"
    assert last[0]["choices"][0]["delta"] == {"tool_calls": [{"index": 2, "function": {"arguments": "<"}}]}


def test_held_text_joins_a_fragment_of_the_same_call_in_the_finishing_chunk() -> None:
    stream = StreamReidentifier(MAPPING)
    stream.feed(_chunk(arguments='{"x": "<', call=0))
    stream.feed(_chunk("ok <"))
    finishing = _chunk(finish="stop")
    finishing["choices"][0]["delta"] = {"tool_calls": [{"index": 0, "id": "late"}]}
    last = stream.feed(finishing)
    assert last["choices"][0]["delta"] == {
        "tool_calls": [{"index": 0, "id": "late", "function": {"arguments": "<"}}], "content": "<"}
    assert finishing["choices"][0]["delta"] == {"tool_calls": [{"index": 0, "id": "late"}]}


def test_a_prefix_that_turns_out_not_to_be_a_placeholder_comes_out_at_once() -> None:
    stream = StreamReidentifier(MAPPING)
    assert _content([stream.feed(_chunk("x <EMA"))]) == ["x "]
    assert _content([stream.feed(_chunk("T y"))]) == ["<EMAT y"]


def test_choices_are_held_separately() -> None:
    stream = StreamReidentifier(MAPPING)
    out = [stream.feed(_chunk("A <EMA", index=0)), stream.feed(_chunk("B <CUSTOMER_1", index=1)),
           stream.feed(_chunk("IL_1>", index=0)), stream.feed(_chunk("2>", index=1)),
           stream.feed(_chunk(index=0, finish="stop")), stream.feed(_chunk(index=1, finish="stop"))]
    assert "".join(_content(out, 0)) == "A jean.dupont@example.fr"
    assert "".join(_content(out, 1)) == 'B Durand "Frères"'


def test_chunks_are_not_mutated_and_odd_chunks_pass() -> None:
    stream = StreamReidentifier(MAPPING)
    chunk = _chunk("<EMAIL_1> et <EMA")
    original = copy.deepcopy(chunk)
    assert _content([stream.feed(chunk)]) == ["jean.dupont@example.fr et "]
    assert chunk == original
    usage = {"id": "chatcmpl-1", "choices": [], "usage": {"total_tokens": 5}}
    assert stream.feed(usage) == usage
    assert stream.feed({"choices": [None, {"index": 0}]}) == {"choices": [None, {"index": 0}]}
    assert stream.feed({"choices": [{"index": 0, "delta": {"tool_calls": [None, {"index": 0}]}}]}) == {
        "choices": [{"index": 0, "delta": {"tool_calls": [None, {"index": 0}]}}]}
    assert _content(stream.finish()) == ["<EMA"]


def test_without_placeholders_chunks_pass_through() -> None:
    stream = StreamReidentifier({})
    chunk = _chunk("a <EMA")
    assert stream.feed(chunk) == chunk
    assert stream.finish() == []
