"""The inbound Anthropic API: `POST /v1/messages` (plain and streaming), `GET /v1/models`.

The request is translated once into the internal (OpenAI) format and routed
like any other, so an application written for Anthropic's SDK fails over to
any family. Answers and stream events are translated back; every error a
client sees has Anthropic's shape `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson

from releve.asgi import JSON_HEADERS, SSE_HEADERS, ClientGone, Receive, Scope, Send, read_body, send_bytes
from releve.errors import GatewayError, InvalidRequest, NoTargetAvailable, Untranslatable, UpstreamError

from ._auth import ClientAuth
from ._openai_wire import parse_object
from ._plan import RoutePlan
from ._recording import RequestRecorder
from ._router import Router, ServedStream
from ._streaming import Piece, RelayedStream, StreamBroken, relay_until_done
from .translate import (
    OpenAIStreamToAnthropic,
    StreamError,
    anthropic_error_body,
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)

__all__ = ["AnthropicApi"]



def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def check_messages(body: dict[str, Any]) -> tuple[str, bool]:
    """(route name, stream?) or InvalidRequest naming the field, as Anthropic checks them."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required (the name of a route).", param="model")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("max_tokens: Field required, a positive integer.", param="max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{index}.role: must be 'user' or 'assistant'.", param="messages")
        if "content" not in message:
            raise InvalidRequest(f"messages.{index}.content: Field required.", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("stream: must be true or false.", param="stream")
    return model, stream


class AnthropicApi:
    def __init__(self, router: Router, auth: ClientAuth, recorder: RequestRecorder, *, max_body_size: int) -> None:
        self._router = router
        self._auth = auth
        self._recorder = recorder
        self._finish = recorder.finish
        self._max_body = max_body_size
        names = sorted(router.routes)
        self._models_body = orjson.dumps({
            "data": [{"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
                     for name in names],
            "has_more": False, "first_id": names[0] if names else None, "last_id": names[-1] if names else None})
        self._route_names = ", ".join(names)

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._auth.authenticate(scope["headers"])
        except GatewayError as exc:
            await self._send_error(send, exc)
            return
        await send_bytes(send, 200, self._models_body)

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        route_name, client = "-", None
        try:
            client = self._auth.authenticate(scope["headers"])
            body = parse_object(await read_body(scope, receive, self._max_body))
            requested, stream = check_messages(body)
            plan = self._router.routes.get(requested)
            if plan is None:
                raise InvalidRequest(f"model: '{requested}' does not exist. Routes: {self._route_names}.",
                                     status=404, code="not_found_error", param="model")
            route_name = plan.name
            try:
                internal = anthropic_request_to_openai(body)
            except Untranslatable as exc:
                raise InvalidRequest(f"This request cannot be routed: {exc.reason}.") from None
            if stream:
                internal["stream"] = True
                internal["stream_options"] = {"include_usage": True}
                served_stream = await self._router.open_stream(plan, internal)
                await self._relay(receive, send, plan, internal, served_stream, requested, started, client)
                return
            served = await self._router.send(plan, internal)
        except ClientGone:
            return
        except UpstreamError as exc:  # the client's own mistake, as judged by the provider
            status = exc.upstream_status or 400
            await self._send_error(send, InvalidRequest(_upstream_message(exc), status=status))
            self._finish(route_name, "-", 1, status, "rejected", started, client)
            return
        except GatewayError as exc:
            await self._send_error(send, exc)
            outcome = "failed" if isinstance(exc, NoTargetAvailable) else "rejected"
            self._finish(route_name, "-", 0, exc.status, outcome, started, client)
            return
        target = served.target
        answer = openai_response_to_anthropic(orjson.loads(served.response.body), requested)
        await send_bytes(send, 200, orjson.dumps(answer), (
            *JSON_HEADERS, *target.served_headers(served.attempts)))
        outcome = "fallback" if plan.is_fallback(target, served.attempts) else "served"
        self._finish(route_name, target.label, served.attempts, 200, outcome, started, client)

    async def _relay(self, receive: Receive, send: Send, plan: RoutePlan, internal: dict[str, Any],
                     served: ServedStream, model: str, started: float, client: str | None) -> None:
        target = served.target
        await send({"type": "http.response.start", "status": 200, "headers": [
            *SSE_HEADERS, *target.served_headers(served.attempts)]})
        outcome = "fallback" if plan.is_fallback(target, served.attempts) else "served"
        self._finish(plan.name, target.label, served.attempts, 200, outcome, started, client)
        translator = OpenAIStreamToAnthropic(model)

        def render(piece: Piece) -> bytes:
            try:
                return b"".join(_event(name, data) for chunk in piece.chunks or ()
                                for name, data in translator.feed(chunk))
            except (StreamError, Untranslatable) as exc:
                raise StreamBroken(f"The answer cannot be carried on in Anthropic's format ({exc}).") from None

        relayed = RelayedStream(self._router, plan, internal, served, parse=True)
        problem = await relay_until_done(receive, send, relayed, render)
        if problem is None:
            try:
                closing = b"".join(_event(name, data) for name, data in translator.finish())
            except StreamError as exc:  # ended without a finish reason: never pass it off as complete
                problem = f"The answer from {relayed.target.label} ended without finishing ({exc})."
        if problem is not None:
            self._recorder.interrupted(plan.name, relayed.target.label)
            closing = _event("error", anthropic_error_body(502, problem))
        await send({"type": "http.response.body", "body": closing, "more_body": False})

    async def _send_error(self, send: Send, exc: GatewayError) -> None:
        headers: list[tuple[bytes, bytes]] = list(JSON_HEADERS)
        if exc.retry_after is not None:
            headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
        await send_bytes(send, exc.status, orjson.dumps(anthropic_error_body(exc.status, exc.message)), headers)



def _upstream_message(exc: UpstreamError) -> str:
    try:
        parsed = orjson.loads(exc.body or b"")
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        message = parsed["error"].get("message")
        if isinstance(message, str):
            return message[:2000]
    return f"The provider rejected the request ({exc.upstream_status})."
