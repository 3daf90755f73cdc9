"""The simulator's aiohttp application: every family's routes, the admin routes, and the fault hook.

Every API route, whatever its family (OpenAI, Anthropic, Gemini, Azure
OpenAI), runs the same steps: read and record the request, pick faults, apply
the ones that act before an answer (latency, errors, hangs, resets), check the
key, answer (or replay the answer kept for its `Idempotency-Key`: see
`_idempotency.py`). Only the `Family` value of the route says how keys are
read and errors and broken streams are spelled, so a fault means the same
thing on every path. With no fault active the answer is a single `web.Response`, which
keeps the simulator cheap enough to serve as the upstream in benchmarks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import _anthropic, _azure, _gemini
from ._admin import add_admin_routes
from ._answers import chat_chunks, chat_completion, embeddings, malformed
from ._family import OPENAI, SSE, Family, Stream
from ._faults import Fault, FaultKind
from ._idempotency import Kept
from ._plan import Injection
from ._requests import UNPARSABLE, ApiError, load_body, parse_chat, parse_embeddings
from ._state import SIM, SimState
from ._status_feed import add_status_feed_routes
from ._wire import JSON, drop, hold, send_plain, send_stream

__all__ = ["API_PATHS", "build_simulator_app"]

# Room for long prompts and large embedding batches; aiohttp's default is 1 MiB.
MAX_BODY_BYTES = 32 * 1024 * 1024

Answer = Callable[[SimState, web.Request, Any], bytes | Stream]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API route: its family, its answer, and what its URL says that the body does not.

    `model_param` names the URL segment holding the model (Gemini's model,
    Azure's deployment); `streams` is set when the URL, not the body, decides
    whether the answer streams.
    """

    family: Family
    answer: Answer
    method: str = "POST"
    model_param: str | None = None
    streams: bool | None = None


def _chat(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    parsed = parse_chat(body)
    seq = sim.next_seq()
    if parsed.stream:
        return Stream(chat_chunks(sim.name, parsed, seq))
    return chat_completion(sim.name, parsed, seq)


def _embeddings(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    return embeddings(parse_embeddings(body))


def _models(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    return sim.models_body


ENDPOINTS: Mapping[str, Endpoint] = {
    "/v1/chat/completions": Endpoint(OPENAI, _chat),
    "/v1/embeddings": Endpoint(OPENAI, _embeddings),
    "/v1/models": Endpoint(OPENAI, _models, "GET"),
    "/v1/messages": Endpoint(_anthropic.ANTHROPIC, _anthropic.answer),
    "/v1beta/models": Endpoint(_gemini.GEMINI, _models, "GET"),
    "/openai/models": Endpoint(_azure.AZURE, _models, "GET"),
    "/v1beta/models/{model}:generateContent": Endpoint(
        _gemini.GEMINI, _gemini.answer, model_param="model", streams=False
    ),
    "/v1beta/models/{model}:streamGenerateContent": Endpoint(
        _gemini.GEMINI, _gemini.stream_answer, model_param="model", streams=True
    ),
    "/openai/deployments/{deployment}/chat/completions": Endpoint(_azure.AZURE, _azure.chat, model_param="deployment"),
    "/openai/deployments/{deployment}/embeddings": Endpoint(_azure.AZURE, _azure.embed, model_param="deployment"),
}
API_PATHS = tuple(ENDPOINTS)


def build_simulator_app(
    name: str, *, api_key: str | None = None, faults: Sequence[Fault] = (), seed: int | None = None
) -> web.Application:
    """A provider named `name` that speaks every family's API, with `faults` active from the start.

    Building the app opens nothing: sockets and loops belong to whoever runs it.
    """
    if not name:
        raise ValueError("simulator name must be a non-empty string")
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SIM] = SimState(name, api_key, faults, seed)
    app.on_shutdown.append(_on_shutdown)
    for path, endpoint in ENDPOINTS.items():
        # Any method reaches the handler, which answers a wrong one with a 405 in the family's shape.
        app.router.add_route("*", path, _api(endpoint))
    add_admin_routes(app)
    add_status_feed_routes(app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _on_shutdown(app: web.Application) -> None:
    app[SIM].closing.set()


def _api(endpoint: Endpoint) -> Handler:
    family = endpoint.family
    methods = (endpoint.method, "HEAD") if endpoint.method == "GET" else (endpoint.method,)

    async def handle(request: web.Request) -> web.StreamResponse:
        sim = request.app[SIM]
        if request.method not in methods:
            message = f"Method {request.method} is not allowed on {request.path}."
            return _unrouted(request, sim, family, ApiError(405, message, code="method_not_allowed"))
        sim.stats.in_flight += 1
        try:
            return await answer_request(request, sim)
        finally:
            sim.stats.in_flight -= 1

    async def answer_request(request: web.Request, sim: SimState) -> web.StreamResponse:
        body = load_body(await request.read())
        sent = family.sent_key(request)
        path = request.path
        model = _model(request, endpoint, body)
        idempotency_key = request.headers.get("Idempotency-Key") if endpoint.method == "POST" else None
        sim.stats.request(
            path,
            None if body is UNPARSABLE else body,
            sent is not None,
            family=family.name,
            model=model,
            stream=endpoint.streams,
            idempotency_key=idempotency_key,
        )
        injection = sim.plan.select(path) if sim.plan.active else None
        if injection is not None:
            sim.stats.faults(injection.kinds)
            early = await _before_answer(request, sim, injection, family)
            if early is not None:
                return early
        kept = None
        try:
            if sim.api_key is not None and sent != sim.api_key:
                raise family.key_error(sim.name, sent is not None)
            if idempotency_key is not None:
                kept = sim.idempotent.get((family.name, model, idempotency_key))
            result = _replay(kept) if kept is not None else endpoint.answer(sim, request, body)
        except ApiError as exc:
            sim.stats.status(exc.status)
            return await _send(request, exc.status, family.error_body(exc), injection)
        sim.stats.status(200)
        headers = None
        if kept is not None:
            sim.stats.replayed(model)
            headers = _REPLAYED
        elif endpoint.method == "POST":
            sim.stats.executed(model)
            if idempotency_key is not None:
                result = _keep(sim, (family.name, model, idempotency_key), result)
        if isinstance(result, bytes):
            if injection is None:
                return web.Response(body=result, content_type=JSON, headers=headers)
            if injection.malformed:
                result = malformed(result)
            return await send_plain(
                request, 200, result, injection, headers=headers, cut=injection.cut_after is not None
            )
        return await send_stream(request, result, injection, family.malformed_event)

    return handle


async def _send(
    request: web.Request, status: int, body: bytes, injection: Injection | None, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    if injection is None:
        return web.Response(status=status, body=body, headers=headers, content_type=JSON)
    return await send_plain(request, status, body, injection, headers=headers)


async def _before_answer(
    request: web.Request, sim: SimState, injection: Injection, family: Family
) -> web.StreamResponse | None:
    """Apply latency, then the fault that replaces the answer, if any, in the family's error shape."""
    if injection.delay_s:
        await asyncio.sleep(injection.delay_s)
    fault = injection.terminal
    if fault is None:
        return None
    if fault.kind is FaultKind.RESET_PEER:
        return drop(request, reset=True)
    if fault.kind is FaultKind.HANG or fault.kind is FaultKind.BLACKHOLE:
        # Both read the request and send nothing back. Reading is deliberately not paused
        # for a black hole: a paused transport would not notice the client leaving, and
        # every abandoned request would hold a socket until the simulator stops.
        await hold(request, sim.closing, fault.seconds)
        return drop(request)
    headers = None
    if fault.kind is FaultKind.RATE_LIMIT:
        seconds = fault.retry_after
        headers = {"Retry-After": str(math.ceil(seconds)), "retry-after-ms": str(round(seconds * 1000))}
        error = ApiError(
            429,
            f"Rate limit reached for requests (simulated by {sim.name!r}).",
            type="requests",
            code="rate_limit_exceeded",
            retry_after=seconds,
        )
    else:
        status = fault.status
        kind = "server_error" if status >= 500 else "invalid_request_error"
        error = ApiError(status, f"Simulated {status} error from {sim.name!r}.", type=kind, code="simulated_error")
    sim.stats.status(error.status)
    return await _send(request, error.status, family.error_body(error), injection, headers)


def _model(request: web.Request, endpoint: Endpoint, body: Any) -> str | None:
    """The model a request is for: the URL's (Gemini, Azure), else the body's."""
    if endpoint.model_param is not None:
        return request.match_info[endpoint.model_param]
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def _replay(kept: Kept) -> bytes | Stream:
    if kept.body is not None:
        return kept.body
    return Stream(iter(kept.events), kept.content_type or SSE)


def _keep(sim: SimState, scope: tuple[str, str | None, str], result: bytes | Stream) -> bytes | Stream:
    """Keep an executed answer under its key; a stream's events are read once, kept, and sent from the copy."""
    if isinstance(result, bytes):
        sim.idempotent.keep(scope, Kept(body=result))
        return result
    events = tuple(result.events)
    sim.idempotent.keep(scope, Kept(events=events, content_type=result.content_type))
    return Stream(iter(events), result.content_type)


def _family_of(path: str) -> Family:
    """The family whose error shape a client of `path` expects, for paths no route matched."""
    if path.startswith("/v1beta/"):
        return _gemini.GEMINI
    if path.startswith("/openai/"):
        return _azure.AZURE
    if path.startswith("/v1/messages"):
        return _anthropic.ANTHROPIC
    return OPENAI


def _unrouted(request: web.Request, sim: SimState, family: Family, error: ApiError) -> web.Response:
    if not request.path.startswith("/_"):  # admin mistakes are not API traffic
        sim.stats.request(request.path, None, family.sent_key(request) is not None, family=family.name)
        sim.stats.status(error.status)
    return web.Response(status=error.status, body=family.error_body(error), content_type=JSON)


async def _not_found(request: web.Request) -> web.Response:
    error = ApiError(404, f"Invalid URL ({request.method} {request.path})", code="unknown_url")
    return _unrouted(request, request.app[SIM], _family_of(request.path), error)
