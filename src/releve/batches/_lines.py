"""One batch line through the router: the answer it gets, as the same request sent directly would get it.

The line's body is checked as the inbound API checks it, its `model` names a route, and the router does
the rest (failover, retries, breakers). What comes back is the line's outcome for the output or error
file; an outage (`NoTargetAvailable`) is not an outcome: it propagates, and the runner tries the line
again later.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from releve.errors import InvalidRequest, UpstreamError
from releve.gateway import Router, check_chat, check_embeddings, error_body, relayed_error_body
from releve.gateway.providers import Operation

__all__ = ["Outcome", "execute", "operation_for"]

logger = logging.getLogger("releve.batches")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int
    body: dict[str, Any]


def operation_for(endpoint: str) -> Operation:
    return Operation.EMBEDDINGS if endpoint == "/v1/embeddings" else Operation.CHAT


async def execute(router: Router, operation: Operation, line_body: dict[str, Any]) -> Outcome:
    """The line's answer, or its refusal (by Relève or by the provider); raises NoTargetAvailable."""
    body = copy.deepcopy(line_body)  # the router may change the body it is given; the line is sent again later
    try:
        if operation is Operation.CHAT:
            model, stream = check_chat(body)
            if stream:
                raise InvalidRequest("'stream' is not supported in a batch: remove it or set it to false.",
                                     param="stream", code="unsupported_in_batch")
        else:
            model = check_embeddings(body)
        plan = router.routes.get(model)
        if plan is None:
            raise InvalidRequest(f"The model '{model}' does not exist. Routes: {', '.join(sorted(router.routes))}.",
                                 status=404, code="model_not_found", param="model")
        served = await router.send(plan, body, operation)
    except InvalidRequest as exc:
        return Outcome(False, exc.status, orjson.loads(error_body(exc)))
    except UpstreamError as exc:  # the provider refused the request itself: its verdict, as a direct call shows it
        return Outcome(False, exc.upstream_status or 400, orjson.loads(relayed_error_body(exc)))
    try:
        answer = orjson.loads(served.response.body)
    except orjson.JSONDecodeError:
        logger.warning("batch line answered by %s with a body that is not JSON", served.target.label)
        return Outcome(False, 502, {"error": {"message": "The provider's answer was not valid JSON.",
                                              "type": "server_error", "code": "bad_upstream_answer", "param": None}})
    return Outcome(True, served.response.status, answer)
