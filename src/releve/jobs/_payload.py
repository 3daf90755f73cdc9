"""What a job looks like from outside: the JSON of `GET /v1/jobs/{id}` and of its callback, and error bodies.

One function builds both, so a client polling and a client called back read exactly the same object.
"""

from __future__ import annotations

from typing import Any

import orjson

from releve.store import Job, JobStatus

__all__ = ["error_body", "error_object", "job_payload"]


def error_object(message: str, code: str, *, kind: str = "invalid_request_error",
                 param: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": kind, "code": code, "param": param}


def error_body(message: str, code: str, *, kind: str = "invalid_request_error", param: str | None = None) -> bytes:
    """An error in OpenAI's shape, as the inbound OpenAI API sends them."""
    return orjson.dumps({"error": error_object(message, code, kind=kind, param=param)})


def _parsed(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _failure(job: Job) -> dict[str, Any]:
    """The error of a failed job: the provider's own verdict when it refused the request, else ours."""
    parsed = _parsed(job.response_body)
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        error: dict[str, Any] = parsed["error"]
        return error
    return error_object(job.error or "The job failed.", "job_failed", kind="server_error")


def _expiry(job: Job) -> dict[str, Any]:
    message = f"No target could answer before the job expired at {job.expires_at.isoformat()}."
    if job.error:
        message += f" Last attempt: {job.error}"
    return error_object(message, "job_expired", kind="server_error")


def job_payload(job: Job) -> dict[str, Any]:
    """The job as clients see it; `response` is the completion as the provider's answer would have been sent."""
    payload: dict[str, Any] = {
        "id": job.id,
        "object": "job",
        "status": job.status.value,
        "created_at": int(job.created_at.timestamp()),
        "expires_at": int(job.expires_at.timestamp()),
        "route": job.route,
    }
    if job.status is JobStatus.SUCCEEDED:
        payload["response"] = _parsed(job.response_body)
    elif job.status is JobStatus.FAILED:
        payload["error"] = _failure(job)
    elif job.status is JobStatus.EXPIRED:
        payload["error"] = _expiry(job)
    return payload
