"""The inbound OpenAI API: /v1/chat/completions, /v1/embeddings, /v1/models.

This module and `_openai_wire` are the only ones that know OpenAI's wire
format on the inbound side. Every error a client sees is shaped here once,
as `{"error": {"message", "type", "code", "param"}}`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import orjson

from releve.asgi import JSON_HEADERS, SSE_HEADERS, ClientGone, Receive, Scope, Send, read_body, send_bytes
from releve.errors import DataPolicyRefusal, GatewayError, InvalidRequest, NoTargetAvailable, UpstreamError

from ._cache import cache_key, completion_to_sse
from ._degraded import NO_EXTRAS, RequestExtras, RoutePolicy, deferred_body, request_extras, static_completion
from ._inbound import InboundApi
from ._limits import CLIENT_PRIORITY, MARKED_PERSONAL
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
from ._work import CapturedResponse
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
            raw = await read_body(scope, receive, self._max_body)
            body = parse_object(raw)
            if operation is Operation.CHAT:
                requested, stream = check_chat(body)
            else:
                requested, stream = check_embeddings(body), False
            plan = self._router.routes.get(requested)
            if plan is None:
                raise InvalidRequest(f"The model '{requested}' does not exist. Routes: {self._route_names}.",
                                     status=404, code="model_not_found", param="model")
            route_name = plan.name  # never the client's string: metric labels stay bounded
            if client is not None and client in self._priorities:
                CLIENT_PRIORITY.set(self._priorities[client])
            modes = self._modes
            if modes is not None:
                extras = request_extras(scope["headers"])
                if extras.personal:
                    MARKED_PERSONAL.set(True)
                policy = modes.policies.get(plan.name)
                if policy is not None or extras is not NO_EXTRAS:
                    await self._serve_carefully(receive, send, plan, operation, body, raw, stream, extras, policy,
                                                client, started)
                    return
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

    async def _serve_carefully(self, receive: Receive, send: Send, plan: RoutePlan, operation: Operation,
                               body: dict[str, Any], raw: bytes, stream: bool, extras: RequestExtras,
                               policy: RoutePolicy | None, client: str | None, started: float) -> None:
        """The path with degraded modes or idempotency in play; it raises like `_serve`'s body."""
        modes = self._modes
        assert modes is not None
        if extras.subject is not None and not 0 < len(extras.subject) <= 255:
            raise InvalidRequest("x-releve-subject must be 1 to 255 characters.", code="invalid_subject")
        if extras.callback is not None and not modes.callbacks:
            raise InvalidRequest("x-releve-callback needs jobs.callback_secret in Relève's configuration.",
                                 code="callbacks_disabled")
        if extras.idempotency_key is not None:
            if stream:
                raise InvalidRequest("Idempotency-Key applies to requests without streaming; send stream: false "
                                     "(or Prefer: respond-async) to retry safely.", code="idempotency_with_stream")
            if modes.idempotency is None or not extras.idempotency_key or len(extras.idempotency_key) > 255:
                raise InvalidRequest("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
            if plan.name in modes.no_stored_content:
                raise InvalidRequest(f"Idempotency-Key is refused on route '{plan.name}': replaying the answer means "
                                     "storing personal data, and Relève has no encryption key (RELEVE_DATA_KEYS).",
                                     code="idempotency_unavailable")

            async def produce() -> CapturedResponse:
                return await self._produce(plan, operation, body, extras, policy, client, started)

            captured = await modes.idempotency.run(client=client, key=extras.idempotency_key, body=raw,
                                                   produce=produce, subject=extras.subject)
            await send_bytes(send, captured.status, captured.body, captured.headers)
            return
        if not stream:
            captured = await self._produce(plan, operation, body, extras, policy, client, started)
            await send_bytes(send, captured.status, captured.body, captured.headers)
            return
        early = await self._before(plan, operation, body, extras, policy, client, started, stream=True)
        if early is not None:
            await self._send_degraded(send, early, stream=True)
            return
        try:
            served_stream = await self._router.open_stream(plan, body)
        except NoTargetAvailable as exc:
            if isinstance(exc, DataPolicyRefusal) and exc.status == 403:
                raise
            down = await self._when_down(plan, operation, body, extras, policy, client, started, exc, stream=True)
            await self._send_degraded(send, down, stream=True)
            return
        await self._relay(receive, send, plan, body, served_stream, started, client)

    async def _produce(self, plan: RoutePlan, operation: Operation, body: dict[str, Any], extras: RequestExtras,
                       policy: RoutePolicy | None, client: str | None, started: float) -> CapturedResponse:
        """A whole (non-streaming) answer, degraded if it must be; recorded once."""
        early = await self._before(plan, operation, body, extras, policy, client, started, stream=False)
        if early is not None:
            return early
        key = None
        if policy is not None and policy.cache is not None and self._modes is not None \
                and self._modes.may_cache(plan.name, extras):
            key = cache_key(plan.name, operation, body)
        try:
            served = await self._router.send(plan, body, operation)
        except DataPolicyRefusal as exc:
            if exc.status == 403:  # not an outage: no target may ever receive it, so no degraded mode applies
                return self._captured_refusal(exc, plan.name, started, client)
            return await self._when_down(plan, operation, body, extras, policy, client, started, exc, stream=False)
        except NoTargetAvailable as exc:
            return await self._when_down(plan, operation, body, extras, policy, client, started, exc, stream=False)
        except GatewayError as exc:
            return self._captured_refusal(exc, plan.name, started, client)
        if key is not None and policy is not None and policy.cache is not None:
            policy.cache.put(key, served.response.body)
        target = served.target
        outcome = "fallback" if plan.is_fallback(target, served.attempts) else "served"
        self._finish(plan.name, target.label, served.attempts, 200, outcome, started, client)
        return CapturedResponse(200, (*JSON_HEADERS, *target.served_headers(served.attempts)), served.response.body)

    async def _before(self, plan: RoutePlan, operation: Operation, body: dict[str, Any], extras: RequestExtras,
                      policy: RoutePolicy | None, client: str | None, started: float,
                      *, stream: bool) -> CapturedResponse | None:
        """What answers without trying the targets: `defer: always`, or a hit in an `always` cache."""
        if policy is None or self._modes is None:
            return None
        if policy.defer_always and extras.prefer_async:
            return await self._defer(plan, operation, body, extras, client, started)
        if policy.cache_always and policy.cache is not None and self._modes.may_cache(plan.name, extras):
            hit = policy.cache.get(cache_key(plan.name, operation, body))
            if hit is not None:
                self._finish(plan.name, "cache", 0, 200, "cached", started, client)
                return CapturedResponse(200, (*JSON_HEADERS, (b"x-releve-cache", b"hit")), hit)
        return None

    async def _when_down(self, plan: RoutePlan, operation: Operation, body: dict[str, Any], extras: RequestExtras,
                         policy: RoutePolicy | None, client: str | None, started: float, exc: NoTargetAvailable,
                         *, stream: bool) -> CapturedResponse:
        """Every target failed: the cache, a job, the static answer, or the honest 503, in that order."""
        modes = self._modes
        assert modes is not None
        if policy is not None and policy.cache is not None and modes.may_cache(plan.name, extras):
            hit = policy.cache.get(cache_key(plan.name, operation, body))
            if hit is not None:
                self._finish(plan.name, "cache", 0, 200, "degraded", started, client)
                return CapturedResponse(200, (*JSON_HEADERS, (b"x-releve-degraded", b"cache")), hit)
        if policy is not None and policy.defer and extras.prefer_async:
            return await self._defer(plan, operation, body, extras, client, started)
        if policy is not None and policy.static_answer and policy.message is not None \
                and operation is Operation.CHAT:
            text = modes.message(policy, extras, exc.message)
            self._finish(plan.name, "static", 0, 200, "degraded", started, client)
            return CapturedResponse(200, (*JSON_HEADERS, (b"x-releve-degraded", b"static")),
                                    static_completion(plan.name, text))
        honest = NoTargetAvailable(modes.message(policy, extras, exc.message), status=503,
                                   retry_after=exc.retry_after or 1.0) if policy is not None else exc
        return self._captured_refusal(honest, plan.name, started, client)

    async def _defer(self, plan: RoutePlan, operation: Operation, body: dict[str, Any], extras: RequestExtras,
                     client: str | None, started: float) -> CapturedResponse:
        modes = self._modes
        assert modes is not None and modes.deferrer is not None
        job = await modes.deferrer.defer(route=plan.name, operation=operation, body=body, client=client,
                                         callback_url=extras.callback, subject=extras.subject)
        self._finish(plan.name, "job", 0, 202, "deferred", started, client)
        headers = (*JSON_HEADERS, (b"location", job.location.encode()), (b"x-releve-degraded", b"deferred"))
        return CapturedResponse(202, headers, deferred_body(job.id, job.status, job.created_at.timestamp()))

    def _captured_refusal(self, exc: GatewayError, route: str, started: float,
                          client: str | None) -> CapturedResponse:
        if isinstance(exc, UpstreamError):
            status = exc.upstream_status or 400
            self._finish(route, "-", 1, status, "rejected", started, client)
            return CapturedResponse(status, JSON_HEADERS, self._relayed_body(exc))
        headers: tuple[tuple[bytes, bytes], ...] = JSON_HEADERS
        if exc.retry_after is not None:
            headers = (*headers, (b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
        outcome = "failed" if isinstance(exc, NoTargetAvailable) else "rejected"
        self._finish(route, "-", 0, exc.status, outcome, started, client)
        return CapturedResponse(exc.status, headers, self._error_body(exc))

    async def _send_degraded(self, send: Send, captured: CapturedResponse, *, stream: bool) -> None:
        """A degraded answer to a streaming client: a completion is told as SSE; errors and 202 stay JSON."""
        if captured.status != 200:
            await send_bytes(send, captured.status, captured.body, captured.headers)
            return
        headers = [(name, value) for name, value in captured.headers if name != b"content-type"]
        await send_bytes(send, 200, completion_to_sse(captured.body), (*SSE_HEADERS, *headers))

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
