"""The inbound OpenAI API: /v1/chat/completions, /v1/embeddings, /v1/models.

This module and `_openai_wire` are the only ones that know OpenAI's wire
format on the inbound side. Every error a client sees is shaped here once,
as `{"error": {"message", "type", "code", "param"}}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from releve.asgi import ClientGone, Receive, Scope, Send, read_body
from releve.errors import GatewayError, InvalidRequest, UpstreamError

from ._inbound import InboundApi
from ._openai_wire import (
    check_chat,
    check_embeddings,
    error_body,
    parse_object,
    relayed_error_body,
    stream_error_event,
)
from ._plan import RoutePlan
from ._router import ServedStream
from ._streaming import RelayedStream, relay_until_done
from .providers import Operation

__all__ = ["OpenAIApi"]


class OpenAIApi(InboundApi):
    def _render_models(self, routes: list[str]) -> bytes:
        return orjson.dumps({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "releve"} for name in routes]})

    def _error_body(self, exc: GatewayError) -> bytes:
        return error_body(exc)

    def _relayed_body(self, exc: UpstreamError) -> bytes:
        return relayed_error_body(exc)

    @property
    def endpoints(self) -> dict[str, tuple[str, Callable[[Scope, Receive, Send], Any]]]:
        return {
            "/v1/chat/completions": ("POST", self.chat_completions),
            "/v1/embeddings": ("POST", self.embeddings),
            "/v1/models": ("GET", self.models),
        }

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, Operation.CHAT)

    async def embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, Operation.EMBEDDINGS)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, operation: Operation) -> None:
        started = time.perf_counter()
        route_name, client = "-", None
        try:
            client = self._auth.authenticate(scope["headers"])
            body = parse_object(await read_body(scope, receive, self._max_body))
            if operation is Operation.CHAT:
                requested, stream = check_chat(body)
            else:
                requested, stream = check_embeddings(body), False
            plan = self._router.routes.get(requested)
            if plan is None:
                raise InvalidRequest(f"The model '{requested}' does not exist. Routes: {self._route_names}.",
                                     status=404, code="model_not_found", param="model")
            route_name = plan.name  # never the client's string: metric labels stay bounded
            if stream:
                served_stream = await self._router.open_stream(plan, body)
                await self._relay(receive, send, plan, body, served_stream, started, client)
                return
            served = await self._router.send(plan, body, operation)
        except ClientGone:
            return
        except GatewayError as exc:
            await self._refuse(send, exc, route_name, started, client)
            return
        await self._answer(send, plan, served, served.response.body, started, client)

    async def _relay(self, receive: Receive, send: Send, plan: RoutePlan, body: dict[str, Any],
                     served: ServedStream, started: float, client: str | None) -> None:
        """Relay an open stream event by event; stop the upstream if the client leaves."""
        await self._start_stream(send, plan, served, started, client)
        relayed = RelayedStream(self._router, plan, body, served, parse=False)
        problem = await relay_until_done(receive, send, relayed, None)
        if problem is not None:
            self._recorder.interrupted(plan.name, relayed.target.label)
            await send({"type": "http.response.body", "more_body": True,
                        "body": stream_error_event(problem, "stream_interrupted")})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
