"""The simulator's aiohttp application: OpenAI routes, admin routes, and the fault hook.

Every API route runs the same steps: read and record the request, pick faults,
apply the ones that act before an answer (latency, errors, hangs, resets),
check the key, answer. With no fault active the answer is a single
`web.Response`, which keeps the simulator cheap enough to serve as the
upstream in benchmarks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from aiohttp import web

from ._admin import add_admin_routes
from ._answers import chat_chunks, chat_completion, embeddings, error_body, malformed
from ._faults import Fault, FaultKind
from ._plan import Injection
from ._requests import UNPARSABLE, ApiError, load_body, parse_chat, parse_embeddings
from ._state import SIM, SimState
from ._wire import JSON, drop, hold, send_plain, send_stream

__all__ = ["API_PATHS", "build_simulator_app"]

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
MODELS_PATH = "/v1/models"
API_PATHS = (CHAT_PATH, EMBEDDINGS_PATH, MODELS_PATH)
# Room for long prompts and large embedding batches; aiohttp's default is 1 MiB.
MAX_BODY_BYTES = 32 * 1024 * 1024

Answer = Callable[[SimState, Any], bytes | Iterator[bytes]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_simulator_app(
    name: str, *, api_key: str | None = None, faults: Sequence[Fault] = (), seed: int | None = None
) -> web.Application:
    """An OpenAI-compatible provider named `name`, with `faults` active from the start.

    Building the app opens nothing: sockets and loops belong to whoever runs it.
    """
    if not name:
        raise ValueError("simulator name must be a non-empty string")
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SIM] = SimState(name, api_key, faults, seed)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_post(CHAT_PATH, _api(CHAT_PATH, _chat))
    app.router.add_post(EMBEDDINGS_PATH, _api(EMBEDDINGS_PATH, _embeddings))
    app.router.add_get(MODELS_PATH, _api(MODELS_PATH, _models))
    add_admin_routes(app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _on_shutdown(app: web.Application) -> None:
    app[SIM].closing.set()


def _chat(sim: SimState, body: Any) -> bytes | Iterator[bytes]:
    request = parse_chat(body)
    seq = sim.next_seq()
    if request.stream:
        return chat_chunks(sim.name, request, seq)
    return chat_completion(sim.name, request, seq)


def _embeddings(sim: SimState, body: Any) -> bytes:
    return embeddings(parse_embeddings(body))


def _models(sim: SimState, body: Any) -> bytes:
    return sim.models_body


def _api(path: str, answer: Answer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        sim = request.app[SIM]
        sim.stats.in_flight += 1
        try:
            return await answer_request(request, sim)
        finally:
            sim.stats.in_flight -= 1

    async def answer_request(request: web.Request, sim: SimState) -> web.StreamResponse:
        body = load_body(await request.read())
        authorization = request.headers.get("Authorization")
        sim.stats.request(path, None if body is UNPARSABLE else body, authorization is not None)
        injection = sim.plan.select(path) if sim.plan.active else None
        if injection is not None:
            sim.stats.faults(injection.kinds)
            early = await _before_answer(request, sim, injection)
            if early is not None:
                return early
        try:
            _check_key(sim, authorization)
            result = answer(sim, body)
        except ApiError as exc:
            sim.stats.status(exc.status)
            return await _send(request, exc.status, error_body(exc.message, exc.type, exc.code, exc.param), injection)
        sim.stats.status(200)
        if isinstance(result, bytes):
            if injection is None:
                return web.Response(body=result, content_type=JSON)
            if injection.malformed:
                result = malformed(result)
            return await send_plain(request, 200, result, injection, cut=injection.cut_after is not None)
        return await send_stream(request, result, injection)

    return handle


def _check_key(sim: SimState, authorization: str | None) -> None:
    if sim.authorization is None or authorization == sim.authorization:
        return
    if authorization is None:
        message = "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
    else:
        message = f"Incorrect API key provided to simulator {sim.name!r}."
    raise ApiError(401, message, code="invalid_api_key")


async def _send(
    request: web.Request, status: int, body: bytes, injection: Injection | None, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    if injection is None:
        return web.Response(status=status, body=body, headers=headers, content_type=JSON)
    return await send_plain(request, status, body, injection, headers=headers)


async def _before_answer(request: web.Request, sim: SimState, injection: Injection) -> web.StreamResponse | None:
    """Apply latency, then the fault that replaces the answer, if any."""
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
    if fault.kind is FaultKind.RATE_LIMIT:
        seconds = fault.retry_after
        headers = {"Retry-After": str(math.ceil(seconds)), "retry-after-ms": str(round(seconds * 1000))}
        body = error_body(
            f"Rate limit reached for requests (simulated by {sim.name!r}).", "requests", "rate_limit_exceeded"
        )
        sim.stats.status(429)
        return await _send(request, 429, body, injection, headers)
    status = fault.status
    kind = "server_error" if status >= 500 else "invalid_request_error"
    body = error_body(f"Simulated {status} error from {sim.name!r}.", kind, "simulated_error")
    sim.stats.status(status)
    return await _send(request, status, body, injection)


async def _not_found(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    path = request.path
    if path in API_PATHS:
        status, code, message = 405, "method_not_allowed", f"Method {request.method} is not allowed on {path}."
    else:
        status, code, message = 404, "unknown_url", f"Invalid URL ({request.method} {path})"
    if not path.startswith("/_"):  # admin mistakes are not API traffic
        sim.stats.request(path, None, "Authorization" in request.headers)
        sim.stats.status(status)
    return web.Response(status=status, body=error_body(message, "invalid_request_error", code), content_type=JSON)
