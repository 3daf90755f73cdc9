"""What the inbound APIs share; each says only how its errors and model list look."""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping

from releve.asgi import JSON_HEADERS, SSE_HEADERS, Receive, Scope, Send, send_bytes
from releve.errors import GatewayError, NoTargetAvailable, UpstreamError

from ._auth import ClientAuth
from ._degraded import DegradedModes
from ._plan import RoutePlan
from ._recording import RequestRecorder
from ._router import Router, Served, ServedStream

__all__ = ["InboundApi"]


class InboundApi(abc.ABC):
    def __init__(self, router: Router, auth: ClientAuth, recorder: RequestRecorder, *, max_body_size: int,
                 modes: DegradedModes | None = None, priorities: Mapping[str, int] | None = None) -> None:
        self._router = router
        self._modes = modes
        # Clients whose priority is not normal: who gets a provider's last slots during an incident.
        self._priorities = dict(priorities or {})
        self._auth = auth
        self._recorder = recorder
        self._finish = recorder.finish
        self._max_body = max_body_size
        self._route_names = ", ".join(sorted(router.routes))
        self._models_body = self._render_models(sorted(router.routes))

    @abc.abstractmethod
    def _render_models(self, routes: list[str]) -> bytes:
        """The model list in this API's shape: the routes are the models."""

    @abc.abstractmethod
    def _error_body(self, exc: GatewayError) -> bytes:
        """An error in this API's shape."""

    @abc.abstractmethod
    def _relayed_body(self, exc: UpstreamError) -> bytes:
        """A provider's refusal of the client's request, in this API's shape."""

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._auth.authenticate(scope["headers"])
        except GatewayError as exc:
            await self._send_error(send, exc)
            return
        await send_bytes(send, 200, self._models_body)

    async def _send_error(self, send: Send, exc: GatewayError) -> None:
        headers: list[tuple[bytes, bytes]] = list(JSON_HEADERS)
        if exc.retry_after is not None:
            headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
        await send_bytes(send, exc.status, self._error_body(exc), headers)

    async def _refuse(self, send: Send, exc: GatewayError, route: str, started: float, client: str | None) -> None:
        """Answer an error and record it: the provider's verdict on the request, or our own."""
        if isinstance(exc, UpstreamError):  # the client's own mistake, as judged by the provider
            status = exc.upstream_status or 400
            await send_bytes(send, status, self._relayed_body(exc))
            self._finish(route, "-", 1, status, "rejected", started, client)
            return
        await self._send_error(send, exc)
        outcome = "failed" if isinstance(exc, NoTargetAvailable) else "rejected"
        self._finish(route, "-", 0, exc.status, outcome, started, client)

    async def _answer(self, send: Send, plan: RoutePlan, served: Served, body: bytes, started: float,
                      client: str | None) -> None:
        target = served.target
        await send_bytes(send, 200, body, (*JSON_HEADERS, *target.served_headers(served.attempts)))
        outcome = "fallback" if plan.is_fallback(target, served.attempts) else "served"
        self._finish(plan.name, target.label, served.attempts, 200, outcome, started, client)

    async def _start_stream(self, send: Send, plan: RoutePlan, served: ServedStream, started: float,
                            client: str | None) -> None:
        """Send the stream's headers and record the request: for streams, latency is time to first byte."""
        target = served.target
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*SSE_HEADERS, *target.served_headers(served.attempts)]})
        outcome = "fallback" if plan.is_fallback(target, served.attempts) else "served"
        self._finish(plan.name, target.label, served.attempts, 200, outcome, started, client)
