"""The official openai SDK works against the gateway: chat, streaming, embeddings, models."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.gateway import CLIENT_KEY


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[openai.OpenAI]:
    """An SDK client pointed at the gateway, with its own retries off."""
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        yield client


def test_chat_completion(client: openai.OpenAI, primary: SimulatorThread) -> None:
    """A plain chat completion comes back from the primary with usage."""
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "bonjour"}])
    completion = raw.parse()
    assert completion.choices[0].message.content == "primary heard: bonjour"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert raw.headers["x-releve-target"] == "primary/p-model"
    assert raw.headers["x-releve-attempts"] == "1"
    assert primary.stats()["received"][-1]["model"] == "p-model"


def test_streaming_chat_completion(client: openai.OpenAI) -> None:
    """A streamed answer arrives in chunks that add up to the whole text."""
    stream = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": "one two three"}], stream=True)
    chunks = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(chunks) > 3
    assert "".join(chunks) == "primary heard: one two three"


def test_streaming_failover_is_invisible(client: openai.OpenAI, primary: SimulatorThread) -> None:
    """A primary failing before the first byte leaves one clean stream from the fallback."""
    primary.set_faults({"kind": "status", "status": 503})
    stream = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "hello"}], stream=True)
    assert stream.headers["x-releve-target"] == "fallback/f-model"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream.parse() if chunk.choices)
    assert text == "fallback heard: hello"


def test_embeddings(client: openai.OpenAI) -> None:
    """Embeddings are routed like chat and come back in OpenAI's shape."""
    result = client.embeddings.create(model="assistant", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0


def test_models_lists_the_routes(client: openai.OpenAI) -> None:
    """The models a client can use are the gateway's routes."""
    assert sorted(model.id for model in client.models.list()) == ["assistant", "solo"]


def test_cut_stream_ends_with_an_error_event(client: openai.OpenAI, primary: SimulatorThread,
                                             start_gateway: object) -> None:
    """A stream broken after content reached the client ends with an error, never a fake stop."""
    primary.set_faults({"kind": "stream_cut", "after_chunks": 3})
    stream = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "a b c d e f g"}], stream=True)
    with pytest.raises(openai.APIError, match="broke off mid-stream"):
        for _ in stream:
            pass


async def test_client_leaving_mid_stream_closes_the_upstream(gateway: GatewayThread,
                                                             primary: SimulatorThread) -> None:
    """When the client hangs up on a stream, the gateway stops reading from the provider too."""
    import asyncio

    import aiohttp

    primary.set_faults({"kind": "chunk_delay", "ms": 100})
    body = {"model": "assistant", "stream": True,
            "messages": [{"role": "user", "content": " ".join(["word"] * 100)}]}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as session:
        response = await session.post(f"{gateway.url}/v1/chat/completions", json=body)
        await response.content.readany()
        assert primary.stats()["in_flight"] == 1
        response.close()  # the client goes away ten seconds before the stream would end
    for _ in range(100):
        if primary.stats()["in_flight"] == 0:
            break
        await asyncio.sleep(0.02)
    assert primary.stats()["in_flight"] == 0
