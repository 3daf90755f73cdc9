"""Streams cut mid-way are finished by another target; slow primaries are hedged."""

from __future__ import annotations

import time
import urllib.request

import anthropic
import openai
import pytest

from releve.server import GatewayThread
from releve.sim import SimulatorThread

WORDS = "one two three four five six"




def cut_after_third_chunk(sim: SimulatorThread) -> None:
    sim.set_faults({"kind": "stream_cut", "after_chunks": 3})


def test_cut_before_any_text_is_answered_whole_by_the_fallback(oai: openai.OpenAI,
                                                               sims: dict[str, SimulatorThread]) -> None:
    """Anthropic's first three events carry no text: cut there, the fallback gives the whole answer."""
    cut_after_third_chunk(sims["primary"])
    stream = oai.chat.completions.create(model="recovering-gemini", stream=True,
                                         messages=[{"role": "user", "content": WORDS}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"fallback heard: {WORDS}"


def test_openai_stream_cut_is_finished_by_the_fallback(oai: openai.OpenAI, sims: dict[str, SimulatorThread]) -> None:
    """An OpenAI stream cut after its third chunk reaches the client as one complete answer."""
    cut_after_third_chunk(sims["primary"])
    stream = oai.chat.completions.create(model="recovering", stream=True,
                                         messages=[{"role": "user", "content": WORDS}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"primary heard: {WORDS}"
    continued = sims["fallback"].stats()["received"][-1]["body"]
    assert continued["messages"][-1]["role"] == "assistant"  # the partial answer went as a prefix


def test_anthropic_stream_cut_is_finished_by_the_fallback(claude: anthropic.Anthropic,
                                                          sims: dict[str, SimulatorThread]) -> None:
    """An Anthropic stream whose upstream is cut after three chunks ends as one complete message."""
    cut_after_third_chunk(sims["primary"])
    with claude.messages.stream(model="recovering", max_tokens=200,
                                messages=[{"role": "user", "content": WORDS}]) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == f"primary heard: {WORDS}"
    assert final.stop_reason == "end_turn"


def test_anthropic_upstream_cut_is_finished_by_gemini(oai: openai.OpenAI, sims: dict[str, SimulatorThread]) -> None:
    """Recovery crosses families both ways: an Anthropic stream cut after two words is finished by Gemini."""
    sims["primary"].set_faults({"kind": "stream_cut", "after_chunks": 5})  # start, block, ping, 2 deltas
    stream = oai.chat.completions.create(model="recovering-gemini", stream=True,
                                         messages=[{"role": "user", "content": WORDS}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"primary heard: {WORDS}"


def test_no_fallback_left_ends_with_an_error_event_not_a_hang(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                                              sims: dict[str, SimulatorThread]) -> None:
    """With nobody to continue, both APIs end the stream with an error in their own shape, promptly."""
    cut_after_third_chunk(sims["primary"])
    started = time.perf_counter()
    with pytest.raises(openai.APIError, match="broke off mid-stream"):
        for _ in oai.chat.completions.create(model="via-openai", stream=True,
                                             messages=[{"role": "user", "content": WORDS}]):
            pass
    with pytest.raises(anthropic.APIStatusError, match="broke off mid-stream"), \
            claude.messages.stream(model="via-anthropic", max_tokens=100,
                                   messages=[{"role": "user", "content": WORDS}]) as stream:
        for _ in stream:
            pass
    assert time.perf_counter() - started < 2.0


def test_slow_primary_is_hedged(oai: openai.OpenAI, gateway: GatewayThread,
                                sims: dict[str, SimulatorThread]) -> None:
    """With the primary slowed by 5 s and hedge_after 200 ms, p99 of 20 requests is under 1 s."""
    sims["primary"].set_faults({"kind": "latency", "ms": 5000})
    latencies = []
    for _ in range(20):
        started = time.perf_counter()
        answer = oai.chat.completions.create(model="hedged", messages=[{"role": "user", "content": "hi"}])
        latencies.append(time.perf_counter() - started)
        assert answer.choices[0].message.content == "fallback heard: hi"
    assert sorted(latencies)[-1] < 1.0, latencies  # p99 of 20 is the slowest
    metrics = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5).read().decode()
    cancelled = [line for line in metrics.splitlines()
                 if line.startswith('releve_hedge_cancelled_total{route="hedged",target="p-openai/slow"}')]
    assert cancelled and float(cancelled[0].split()[-1]) >= 20
    assert sims["primary"].stats()["in_flight"] == 0  # the cancelled upstream requests were closed


def test_stalled_stream_fails_over_after_its_idle_timeout(oai: openai.OpenAI, sims: dict[str, SimulatorThread]) -> None:
    """A stream that sends nothing for longer than stream_idle_timeout is given up and taken over."""
    sims["primary"].set_faults({"kind": "chunk_delay", "ms": 5000})
    started = time.perf_counter()
    stream = oai.chat.completions.create(model="idle", stream=True, messages=[{"role": "user", "content": WORDS}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert time.perf_counter() - started < 2.0
    assert text.endswith(WORDS) and sims["fallback"].stats()["requests"] == 1


def test_tool_call_stream_broken_mid_arguments_ends_with_an_error(oai: openai.OpenAI,
                                                                  sims: dict[str, SimulatorThread]) -> None:
    """Tool-call arguments already sent cannot be taken back: the stream ends with an explicit error."""
    sims["primary"].set_faults({"kind": "stream_cut", "after_chunks": 3})
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with pytest.raises(openai.APIError, match="inside a tool call"):
        for _ in oai.chat.completions.create(model="recovering", stream=True, tools=tools,  # type: ignore[arg-type]
                                             messages=[{"role": "user", "content": "find order 42"}]):
            pass
    assert sims["fallback"].stats()["requests"] == 0


def test_long_stream_cut_late_is_still_finished_exactly(oai: openai.OpenAI, sims: dict[str, SimulatorThread]) -> None:
    """Past the raw-event budget the relay keeps only the text: a long answer still resumes word for word."""
    words = " ".join(f"w{i}" for i in range(3000))
    sims["primary"].set_faults({"kind": "stream_cut", "after_chunks": 2000})
    stream = oai.chat.completions.create(model="recovering", stream=True, max_tokens=5000,
                                         messages=[{"role": "user", "content": words}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"primary heard: {words}"
