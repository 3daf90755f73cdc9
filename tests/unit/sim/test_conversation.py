"""The family-neutral answer: heard, continuation, tool calls, tool results, stop sequences."""

from __future__ import annotations

import orjson
import pytest

from releve.sim._conversation import Conversation, Finish, ToolCall, reply, result_text, split_arguments


def test_plain_answer_is_name_heard_last_user_text() -> None:
    """With the user speaking last and no tools, the answer is '<name> heard: <text>'."""
    answer = reply("alpha", Conversation("one two"))
    assert (answer.text, answer.finish, answer.tool_call) == ("alpha heard: one two", Finish.STOP, None)
    assert answer.pieces == ("alpha", " heard:", " one", " two") and answer.output_tokens == 4


def test_continuation_returns_the_words_after_the_prefix() -> None:
    """A prefix of k words gets W[k:], so another simulator's partial answer plus this one reads as one text."""
    prefix = "primary heard: one two"
    answer = reply("fallback", Conversation("one two three four five", prefix=prefix))
    assert answer.text == " three four five"
    assert prefix + answer.text == "primary heard: one two three four five"


def test_continuation_counts_words_by_whitespace_and_may_be_empty() -> None:
    """Irregular spacing counts as word boundaries, and a complete prefix leaves nothing to add."""
    assert reply("b", Conversation("x y z", prefix="a  heard:\n x")).text == " y z"
    complete = reply("b", Conversation("x", prefix="a heard: x"))
    assert (complete.pieces, complete.finish) == ((), Finish.STOP)
    assert reply("b", Conversation("x y", prefix="")).text == "b heard: x y"


def test_max_tokens_applies_to_the_returned_words_of_a_continuation() -> None:
    """max_tokens counts only the words returned, not the prefix's."""
    answer = reply("b", Conversation("one two three four", max_tokens=1, prefix="a heard: one"))
    assert (answer.text, answer.finish) == (" two", Finish.LENGTH)


def test_declared_tool_gets_one_call_with_the_user_text_as_query() -> None:
    """With a tool and the user speaking last, the answer is one call with {"query": text}."""
    answer = reply("a", Conversation("weather in paris", tool="lookup"))
    assert answer.pieces == () and answer.finish is Finish.TOOL_CALL
    assert answer.tool_call == ToolCall("lookup", {"query": "weather in paris"})
    assert answer.tool_call.arguments_json == '{"query":"weather in paris"}'
    assert answer.output_tokens == 3


def test_tool_result_gets_a_got_answer_even_with_tools_declared() -> None:
    """A trailing tool result is answered in text, '<name> got: <result>'."""
    answer = reply("a", Conversation("q", tool="lookup", tool_result='{"temp":20}'))
    assert (answer.text, answer.finish) == ('a got: {"temp":20}', Finish.STOP)


def test_a_prefix_wins_over_a_declared_tool() -> None:
    """Continuing an assistant turn stays text even when tools are declared."""
    assert reply("b", Conversation("x y", prefix="a heard:", tool="t")).text == " x y"


def test_stop_sequence_cuts_before_the_earliest_match() -> None:
    """The answer stops before the first stop sequence found, and reports which one."""
    answer = reply("a", Conversation("one two three", stop_sequences=("three", " two")))
    assert (answer.text, answer.finish, answer.stop_sequence) == ("a heard: one", Finish.STOP_SEQUENCE, " two")
    assert reply("a", Conversation("one", stop_sequences=("zzz",))).finish is Finish.STOP


def test_max_tokens_before_the_stop_sequence_reports_length() -> None:
    """When max_tokens runs out before the stop sequence, the finish is length."""
    answer = reply("a", Conversation("one two three", max_tokens=2, stop_sequences=("three",)))
    assert (answer.text, answer.finish, answer.stop_sequence) == ("a heard:", Finish.LENGTH, None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("sunny", "sunny"),
        ('{"temp": 20, "unit": "C"}', '{"temp":20,"unit":"C"}'),
        ({"temp": 20}, '{"temp":20}'),
        ([1, 2], "[1,2]"),
        ("{not json", "{not json"),
        (21, "21"),
    ],
)
def test_tool_results_are_text_or_compact_json(value: object, text: str) -> None:
    """Strings stay as sent, JSON values and JSON inside strings become compact JSON."""
    assert result_text(value) == text


@pytest.mark.parametrize("arguments", ['{"query":""}', '{"query":"a b c"}', "{}"])
def test_arguments_split_in_at_least_two_pieces_that_rejoin(arguments: str) -> None:
    """Streamed tool arguments come in two or more pieces that join to the JSON text."""
    parts = split_arguments(arguments)
    assert len(parts) >= 2 and "".join(parts) == arguments
    orjson.loads("".join(parts))
