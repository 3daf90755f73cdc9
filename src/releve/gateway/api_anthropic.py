"""The inbound Anthropic API: `POST /v1/messages` (plain and streaming), `GET /v1/models`.

The request is translated once into the internal (OpenAI) format and routed
like any other, so an application written for Anthropic's SDK fails over to
any family. Answers and stream events are translated back; every error a
client sees has Anthropic's shape `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from releve.asgi import ClientGone, Receive, Scope, Send, read_body
from releve.errors import GatewayError, InvalidRequest, NoTargetAvailable, Untranslatable, UpstreamError

from ._degraded import request_extras
from ._inbound import InboundApi
from ._limits import CLIENT_PRIORITY, MARKED_PERSONAL
from ._openai_wire import parse_object
from ._plan import RoutePlan
from ._router import ServedStream
from ._streaming import Piece, RelayedStream, StreamBroken, relay_until_done
from .providers import provider_verdict
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


class AnthropicApi(InboundApi):
    def _render_models(self, routes: list[str]) -> bytes:
        return orjson.dumps({
            "data": [{"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
                     for name in routes],
            "has_more": False, "first_id": routes[0] if routes else None, "last_id": routes[-1] if routes else None})

    def _error_body(self, exc: GatewayError) -> bytes:
        return orjson.dumps(anthropic_error_body(exc.status, exc.message))

    def _relayed_body(self, exc: UpstreamError) -> bytes:
        status = exc.upstream_status or 400
        return orjson.dumps(anthropic_error_body(status, provider_verdict(exc).message))

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
            if client is not None and client in self._priorities:
                CLIENT_PRIORITY.set(self._priorities[client])
            if request_extras(scope["headers"]).personal:
                MARKED_PERSONAL.set(True)
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
        except GatewayError as exc:
            policy = self._modes.policies.get(route_name) if self._modes is not None else None
            if isinstance(exc, NoTargetAvailable) and exc.status != 403 and policy is not None \
                    and self._modes is not None:
                # The route's own words, in the client's language (the other degraded modes speak OpenAI's API).
                message = self._modes.message(policy, request_extras(scope["headers"]), exc.message)
                exc = NoTargetAvailable(message, status=503, retry_after=exc.retry_after or 1.0)
            await self._refuse(send, exc, route_name, started, client)
            return
        answer = openai_response_to_anthropic(orjson.loads(served.response.body), requested)
        await self._answer(send, plan, served, orjson.dumps(answer), started, client)

    async def _relay(self, receive: Receive, send: Send, plan: RoutePlan, internal: dict[str, Any],
                     served: ServedStream, model: str, started: float, client: str | None) -> None:
        await self._start_stream(send, plan, served, started, client)
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
