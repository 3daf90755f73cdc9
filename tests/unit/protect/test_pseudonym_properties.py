"""Properties: pseudonymise then re-identify gives back the original, whatever the text and however it streams."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from releve.protect import PiiDetector, Pseudonymizer

DETECTOR = PiiDetector({"CUSTOMER": ["Durand SA", "Société Générale"], "PROJECT": ["Hélios"]})

VALUES = [
    "jean.dupont@example.fr", "a.b+c@mail.example.co.uk", "06 12 34 56 78", "+33 6 12 34 56 78", "+44 20 7946 0958",
    "FR76 3000 6000 0112 3456 7890 189", "DE89370400440532013000", "4970 1012 3456 7893", "3782 822463 10005",
    "2 95 10 99 126 111 93", "732 829 320", "732 829 320 00074", "192.168.1.42", "2001:db8::1", "Durand SA",
    "SOCIETE GENERALE", "hélios",
]
# Text around the values, with the characters that matter: digits, separators, "<", ">", "_",
# placeholder-shaped literals, accents and quotes.
FILLER = st.lists(st.sampled_from([*"abcXYZ éà0123456789 .-+@:<>_\"\\\n’", "<EMAIL_1>", "<PHONE_2>", "<CUSTOMER_1",
                                    "EMAIL_"]), max_size=30).map("".join)
TEXTS = st.builds(str.join, st.sampled_from([" ", "", ", ", "\n", "-", "."]),
                  st.lists(st.one_of(FILLER, st.sampled_from(VALUES)), max_size=8))


@settings(deadline=None, max_examples=300)
@given(TEXTS)
def test_text_round_trip(text: str) -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    hidden = pseudonymizer.pseudonymize_text(text)
    assert pseudonymizer.reidentify_text(hidden) == text
    leaked = {finding.value for finding in DETECTOR.find(hidden)} & set(pseudonymizer.mapping.values())
    assert not leaked


@settings(deadline=None, max_examples=150)
@given(st.lists(TEXTS, min_size=1, max_size=5), st.dictionaries(st.sampled_from(["to", "note", "x"]), TEXTS))
def test_body_round_trip(texts: list[str], arguments: dict[str, str]) -> None:
    messages: list[dict[str, Any]] = [{"role": "system", "content": texts[0]}]
    messages += [{"role": "user", "content": [{"type": "text", "text": text}]} for text in texts[1:]]
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": json.dumps(arguments)}}]})
    messages.append({"role": "tool", "tool_call_id": "c", "content": texts[-1]})
    pseudonymizer = Pseudonymizer(DETECTOR)
    new, mapping = pseudonymizer.pseudonymize_body({"messages": messages})
    back = pseudonymizer.reidentify_text
    assert back(new["messages"][0]["content"]) == texts[0]
    assert [back(m["content"][0]["text"]) for m in new["messages"][1:-2]] == texts[1:]
    assert json.loads(back(new["messages"][-2]["tool_calls"][0]["function"]["arguments"])) == arguments
    assert back(new["messages"][-1]["content"]) == texts[-1]
    # The answer path: the model echoes the arguments it was given, and they come back as sent.
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": new["messages"][0]["content"],
                                                   "tool_calls": new["messages"][-2]["tool_calls"]}}]}
    message = pseudonymizer.reidentify_body(answer)["choices"][0]["message"]
    assert message["content"] == texts[0]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == arguments
    assert set(mapping) == set(pseudonymizer.mapping)


@settings(deadline=None, max_examples=300)
@given(TEXTS, st.lists(st.integers(min_value=0, max_value=200), max_size=12), st.booleans())
def test_streamed_answer_round_trip(text: str, cuts: list[int], tool_call: bool) -> None:
    """The model's answer, cut into chunks anywhere, is re-identified to exactly the original text."""
    pseudonymizer = Pseudonymizer(DETECTOR)
    hidden = pseudonymizer.pseudonymize_text(text)
    if tool_call:
        hidden = json.dumps({"v": hidden})
    bounds = sorted({min(cut, len(hidden)) for cut in cuts} | {0, len(hidden)})
    stream = pseudonymizer.stream()
    out = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        piece = hidden[start:end]
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} if tool_call else {"content": piece}
        out.append(stream.feed({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
    out += stream.finish()
    if tool_call:
        joined = "".join(call["function"]["arguments"] for chunk in out for choice in chunk["choices"]
                         for call in choice["delta"]["tool_calls"])
        assert json.loads(joined) == {"v": text}
    else:
        assert "".join(choice["delta"]["content"] for chunk in out for choice in chunk["choices"]) == text
