"""Each inbound SDK against each upstream family: plain, streaming, and a tool-call round trip."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from support.families import FAMILIES

TOOLS_OPENAI = [{"type": "function", "function": {"name": "lookup", "description": "Find an order",
                                                  "parameters": {"type": "object",
                                                                 "properties": {"query": {"type": "string"}}}}}]
TOOLS_ANTHROPIC = [{"name": "lookup", "description": "Find an order",
                    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]




@pytest.mark.parametrize("family", FAMILIES)
def test_openai_sdk_plain(oai: openai.OpenAI, family: str) -> None:
    """A plain OpenAI chat completion is answered through each family."""
    answer = oai.chat.completions.create(model=f"via-{family}", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is my parcel"}])
    assert answer.choices[0].message.content == "primary heard: where is my parcel"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_openai_sdk_streaming(oai: openai.OpenAI, family: str) -> None:
    """A streamed OpenAI chat completion arrives whole through each family."""
    stream = oai.chat.completions.create(model=f"via-{family}", stream=True,
                                         messages=[{"role": "user", "content": "one two three"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "primary heard: one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


@pytest.mark.parametrize("family", FAMILIES)
def test_openai_sdk_tool_call_round_trip(oai: openai.OpenAI, family: str) -> None:
    """A tool call and its result make the round trip through each family."""
    messages: list[dict[str, object]] = [{"role": "user", "content": "find order 42"}]
    first = oai.chat.completions.create(model=f"via-{family}", messages=messages, tools=TOOLS_OPENAI)  # type: ignore[arg-type]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"query": "find order 42"}
    messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                 {"role": "tool", "tool_call_id": call.id, "content": "shipped"}]
    second = oai.chat.completions.create(model=f"via-{family}", messages=messages, tools=TOOLS_OPENAI)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "primary got: shipped"


@pytest.mark.parametrize("family", FAMILIES)
def test_openai_sdk_streamed_tool_call(oai: openai.OpenAI, family: str) -> None:
    """A streamed tool call's arguments arrive whole through each family."""
    stream = oai.chat.completions.create(model=f"via-{family}", stream=True, tools=TOOLS_OPENAI,  # type: ignore[arg-type]
                                         messages=[{"role": "user", "content": "find order 7"}])
    arguments, names = "", set()
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += call.function.arguments or "" if call.function else ""
            if call.function and call.function.name:
                names.add(call.function.name)
    assert names == {"lookup"} and json.loads(arguments) == {"query": "find order 7"}


@pytest.mark.parametrize("family", FAMILIES)
def test_anthropic_sdk_plain(claude: anthropic.Anthropic, family: str) -> None:
    """A plain Anthropic message is answered through each family."""
    message = claude.messages.create(model=f"via-{family}", max_tokens=100, system="Be brief.",
                                     messages=[{"role": "user", "content": "where is my parcel"}])
    assert message.content[0].type == "text" and message.content[0].text == "primary heard: where is my parcel"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_anthropic_sdk_streaming(claude: anthropic.Anthropic, family: str) -> None:
    """A streamed Anthropic message arrives whole, with Anthropic's event sequence, through each family."""
    with claude.messages.stream(model=f"via-{family}", max_tokens=100,
                                messages=[{"role": "user", "content": "one two three"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "primary heard: one two three"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    assert final.stop_reason == "end_turn"


@pytest.mark.parametrize("family", FAMILIES)
def test_anthropic_sdk_tool_use_round_trip(claude: anthropic.Anthropic, family: str) -> None:
    """A tool_use and its tool_result make the round trip through each family."""
    first = claude.messages.create(model=f"via-{family}", max_tokens=100, tools=TOOLS_ANTHROPIC,  # type: ignore[arg-type]
                                   messages=[{"role": "user", "content": "find order 42"}])
    use = next(block for block in first.content if block.type == "tool_use")
    assert first.stop_reason == "tool_use" and use.name == "lookup" and use.input == {"query": "find order 42"}
    second = claude.messages.create(model=f"via-{family}", max_tokens=100, tools=TOOLS_ANTHROPIC,  # type: ignore[arg-type]
                                    messages=[{"role": "user", "content": "find order 42"},
                                              {"role": "assistant", "content": [use.model_dump()]},
                                              {"role": "user", "content": [{"type": "tool_result",
                                                                            "tool_use_id": use.id,
                                                                            "content": "shipped"}]}])
    assert second.content[0].type == "text" and second.content[0].text == "primary got: shipped"


def test_anthropic_sdk_lists_routes_as_models(claude: anthropic.Anthropic) -> None:
    """The Anthropic SDK's models list names the routes."""
    assert "via-openai" in [model.id for model in claude.models.list()]


def test_anthropic_errors_have_anthropics_shape(claude: anthropic.Anthropic) -> None:
    """An unknown model is a 404 in Anthropic's error shape."""
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
